"""Helpers shared by the rules tests: write rule YAML to a temporary file and load it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rules.config import RulesConfig
from rules.ruleset import RuleSet


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def load_rules(tmp_path):
    """Load rule YAML text (one or more documents) as a RuleSet."""

    def load(text: str, config: RulesConfig | None = None, name: str = "rules.yml") -> RuleSet:
        write(tmp_path, name, text)
        return RuleSet.load([tmp_path / name], config or RulesConfig())

    return load


def detection(condition_body: str, extra: str = "") -> str:
    """A one-rule file whose detection section is `condition_body` (already indented)."""
    return (
        "title: test rule\nname: test-rule\nlevel: high\nlogsource: {product: test}\n"
        "detection:\n"
        + textwrap.indent(textwrap.dedent(condition_body).strip() + "\n", "  ")
        + extra
    )
