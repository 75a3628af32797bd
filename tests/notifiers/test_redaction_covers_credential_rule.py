"""Every credential the credential rule catches is masked by both redactors.

The rule pack, the evidence redactor and the channel redactor keep their own pattern lists
(rules/ may not import notifiers/); this pins them together: after redaction, none of the
rule's patterns may still match any command or prompt its own tests say it catches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import re2
import yaml

from notifiers.redaction import Redactor
from rules.evidence import redact

PACK = Path(__file__).resolve().parents[2] / "rules" / "packs" / "claude_code"


def _rule_patterns() -> list[Any]:
    rule = yaml.safe_load((PACK / "credentials.yml").read_text())
    patterns: list[Any] = []
    for selection in rule["detection"].values():
        if isinstance(selection, dict):
            for values in selection.values():
                patterns.extend(re2.compile(value) for value in values)
    return patterns


def _caught_texts() -> list[str]:
    doc = yaml.safe_load((PACK / "credentials.test.yml").read_text())
    texts = []
    for case in doc["tests"]:
        if case["expect"] == "none":
            continue
        for event in case["events"]:
            texts.extend(event[field] for field in ("command", "prompt") if field in event)
    return texts


PATTERNS = _rule_patterns()
TEXTS = _caught_texts()


def test_the_rule_tests_hold_credentials_of_many_shapes() -> None:
    assert len(TEXTS) >= 20
    assert all(any(p.search(text) for p in PATTERNS) for text in TEXTS)


@pytest.mark.parametrize("text", TEXTS)
def test_evidence_redaction_leaves_nothing_the_rule_would_catch(text: str) -> None:
    masked = redact(text)
    assert not [p.pattern for p in PATTERNS if p.search(masked)], masked


@pytest.mark.parametrize("text", TEXTS)
def test_channel_redaction_leaves_nothing_the_rule_would_catch(text: str) -> None:
    masked = Redactor().text(text)
    assert not [p.pattern for p in PATTERNS if p.search(masked)], masked
