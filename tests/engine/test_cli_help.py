"""`spanwatch … --help` describes every command and every option, with its default."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from engine.cli import build_parser, main
from tests.patience import PATIENCE

ROOT = Path(__file__).resolve().parents[2]


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found.extend(commands(child, (*path, name)))
    return found


ALL = commands(build_parser())


def test_every_command_is_reached():
    names = {" ".join(path) for path, _ in ALL}
    assert {"run", "replay", "incidents silence", "rules test", "health"} <= names
    assert len(names) >= 18


@pytest.mark.parametrize(("path", "parser"), ALL, ids=[" ".join(p) or "spanwatch" for p, _ in ALL])
def test_help_describes_the_command_and_every_option_with_its_default(path, parser, capsys):
    with pytest.raises(SystemExit) as info:
        main([*path, "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert parser.description, f"{path} has no description"
    assert " ".join(parser.description.split()) in text
    formatter = parser.formatter_class(prog=parser.prog)
    one_required = {
        a
        for group in parser._mutually_exclusive_groups
        if group.required
        for a in group._group_actions
    }
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help, f"{' '.join(path)} {name} has no help"
        shown = " ".join((formatter._get_help_string(action) % vars(action)).split())
        assert shown in text, f"{' '.join(path)} {name}: help not shown"
        takes_value = action.nargs != 0
        if action.option_strings and takes_value and not action.required:
            if action in one_required:  # one of them must be given: none has a default
                continue
            assert "default" in shown, f"{' '.join(path)} {name} does not say its default"


def test_version_is_the_installed_distributions():
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )
    assert (done.returncode, done.stdout) == (0, f"spanwatch {expected}\n")
