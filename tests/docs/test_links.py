"""Nothing in the repository points at a file that is not in it.

Markdown links in README and docs/ (and every other Markdown file) must resolve to a file in the
repository, and their `#anchors` to a heading of it; runbook links of the rule packs likewise;
and every `*.md` the sources name must exist.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
MD_NAME = re.compile(r"(?<![\w/.-])([\w./-]*\w\.md)\b")
SOURCE_DIRS = ("engine", "rules", "detectors", "notifiers", "replay", "bench", "scripts", "docs")


def tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *patterns],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [ROOT / line for line in out.splitlines() if (ROOT / line).is_file()]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as dashes."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (match := HEADING.match(line)):
            found.add(slug(match.group(1)))
    return found


def problem(source: Path, target: str) -> str | None:
    """Why `target`, written in `source`, does not resolve (None when it does)."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, s3: ...
        return None
    file_part, _, anchor = target.partition("#")
    path = (source.parent / file_part).resolve() if file_part else source
    if not path.is_relative_to(ROOT):
        return f"{target}: outside the repository"
    if not path.exists():
        return f"{target}: no such file in the repository"
    if anchor and path.suffix == ".md" and anchor not in anchors(path):
        return f"{target}: no heading #{anchor} in {path.relative_to(ROOT)}"
    return None


def links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return LINK.findall(text)


MARKDOWN = tracked("*.md")


def test_readme_links_the_docs() -> None:
    readme_links = links(ROOT / "README.md")
    pages = ("architecture", "events", "rules", "configuration", "control", "live", "docker")
    for page in (*pages, "operations", "detectors"):
        assert f"docs/{page}.md" in readme_links, f"README does not link docs/{page}.md"


@pytest.mark.parametrize("path", MARKDOWN, ids=[str(p.relative_to(ROOT)) for p in MARKDOWN])
def test_every_relative_link_resolves(path: Path) -> None:
    broken = [p for target in links(path) if (p := problem(path, target))]
    assert not broken, f"{path.relative_to(ROOT)}: {broken}"


def test_a_broken_link_or_anchor_is_caught(tmp_path: Path) -> None:
    page = ROOT / "docs" / "architecture.md"
    assert problem(page, "events.md") is None
    assert problem(page, "missing.md") is not None
    assert problem(page, "events.md#no-such-heading") is not None
    assert problem(page, "../../outside.md") is not None


def test_rule_runbooks_resolve() -> None:
    runbooks = []
    for rule_file in tracked("rules/packs/*.yml"):
        for doc in yaml.safe_load_all(rule_file.read_text(encoding="utf-8")):
            runbook = ((doc or {}).get("spanwatch") or {}).get("runbook")
            if runbook:
                runbooks.append(runbook)
    assert runbooks
    broken = [p for r in runbooks if (p := problem(ROOT / "README.md", r))]
    assert not broken


def test_sources_name_only_markdown_files_that_exist() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in tracked()}
    missing = []
    for path in tracked(*SOURCE_DIRS, "README.md", "Dockerfile", "examples"):
        if path.suffix in (".gz", ".parquet", ".png"):
            continue
        for name in MD_NAME.findall(path.read_text(encoding="utf-8", errors="replace")):
            here = (path.parent / name).resolve()
            in_repo = here.is_relative_to(ROOT) and here.relative_to(ROOT).as_posix() in names
            if name not in names and not in_repo:
                missing.append(f"{path.relative_to(ROOT)}: {name}")
    assert not missing, missing
