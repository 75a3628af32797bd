"""Every `spanwatch` command in the shell blocks of README and docs/ is one the CLI accepts:
the sub-commands exist and the options are spelled as the parser knows them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from engine.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCK = re.compile(r"```(?:sh|bash|shell)\n(.*?)```", re.DOTALL)


def shell_commands(path: Path) -> list[str]:
    """Commands of the page's shell blocks: continuations joined, comments dropped."""
    commands = []
    for block in SHELL_BLOCK.findall(path.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(shlex.join(words))
    return commands


def spanwatch_commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for command in shell_commands(page):
            words = shlex.split(command)
            if words[:3] == ["docker", "compose", "exec"]:  # docker compose exec SERVICE ...
                words = words[4:]
            if words and words[0] == "spanwatch":
                found.append((page.name, shlex.join(words[1:])))
    return found


COMMANDS = spanwatch_commands()


def test_the_docs_show_commands() -> None:
    assert len(COMMANDS) >= 8


@pytest.mark.parametrize(("page", "command"), COMMANDS)
def test_command_parses(page: str, command: str) -> None:
    parser = build_parser()
    try:
        args = parser.parse_args(shlex.split(command))
    except SystemExit as exc:
        pytest.fail(f"{page}: `spanwatch {command}` is refused by the parser ({exc.code})")
    assert args is not None


def test_a_misspelt_command_is_caught() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["incidents", "silence", "team=x", "--four", "2h"])
