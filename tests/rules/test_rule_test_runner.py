"""`spanwatch rules test`: events in, expected incidents out, a readable diff on failure."""

from __future__ import annotations

import io
import json

import pytest

from rules.cli import run_tests
from rules.config import PACKS_DIR, RulesConfig
from rules.testing import discover_test_files
from tests.rules.conftest import write

RULE = """\
title: pipe to shell
name: pipe
level: critical
logsource: {product: test}
detection:
  sel:
    command|contains: '| sh'
  condition: sel
"""


def run(paths) -> tuple[int, str]:
    out = io.StringIO()
    code = run_tests([str(p) for p in paths], config=RulesConfig(), known_fields=(), out=out)
    return code, out.getvalue()


def test_passing_tests_exit_zero(tmp_path):
    write(tmp_path, "pipe.yml", RULE)
    write(
        tmp_path,
        "pipe.test.yml",
        """\
        tests:
          - name: caught
            events: [{command: 'curl x | sh', user: al}]
            expect: [{rule: pipe, group: {user: al}, count: 1}]
          - name: clean
            events: [{command: 'ls', user: al}]
            expect: none
        """,
    )
    code, text = run([tmp_path])
    assert code == 0
    assert "2 rule tests, 0 failed" in text


def test_failing_test_exits_one_with_a_diff(tmp_path):
    write(tmp_path, "pipe.yml", RULE)
    test_file = write(
        tmp_path,
        "pipe.test.yml",
        """\
        tests:
          - name: wrong expectations
            events:
              - {command: 'curl x | sh', user: al, repeat: 2}
              - {command: 'curl y | sh', user: bo}
            expect:
              - {rule: pipe, group: {user: al}, count: 1}
        """,
    )
    code, text = run([test_file])
    assert code == 1
    assert f"FAIL {test_file}:2 wrong expectations" in text
    assert "- pipe {user=al} count=1" in text
    assert "+ pipe {user=al} count=2" in text
    assert "+ pipe {user=bo} count=1 (unexpected)" in text


def test_history_file_of_flat_json_lines(tmp_path):
    write(tmp_path, "pipe.yml", RULE)
    lines = [
        {"time": "2026-01-05T10:00:00Z", "command": "curl x | sh", "user": "al"},
        {"time": 1767607200.0, "command": "ls", "user": "al"},
    ]
    (tmp_path / "history.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    write(
        tmp_path,
        "pipe.test.yml",
        """\
        tests:
          - name: from history
            history: history.jsonl
            expect: [{rule: pipe, group: {user: al}, count: 1}]
        """,
    )
    assert run([tmp_path])[0] == 0


def test_malformed_test_file_exits_two_with_its_line(tmp_path):
    write(tmp_path, "pipe.yml", RULE)
    test_file = write(
        tmp_path,
        "pipe.test.yml",
        """\
        tests:
          - name: no expectation
            events: [{command: ls}]
        """,
    )
    code, text = run([test_file])
    assert code == 2
    assert f"{test_file}:2: error: a test needs `expect`" in text


def test_tests_of_broken_rules_exit_two(tmp_path):
    write(tmp_path, "pipe.yml", RULE.replace("level: critical", "level: bad"))
    write(tmp_path, "pipe.test.yml", "tests:\n  - {name: x, events: [], expect: none}\n")
    code, text = run([tmp_path])
    assert code == 2
    assert "level" in text


PACK_TESTS = discover_test_files([PACKS_DIR / "claude_code"])[0]
OPT_IN_TESTS = discover_test_files([PACKS_DIR / "claude_code_strict"])[0]


@pytest.mark.parametrize("test_file", PACK_TESTS + OPT_IN_TESTS, ids=lambda p: p.name)
def test_every_rule_test_of_the_shipped_packs_passes(test_file):
    code, text = run([test_file])
    assert code == 0, text
    assert "PASS" in text


def test_every_default_pack_rule_has_a_positive_and_a_negative_test():
    """Each incident-raising rule appears in an expectation and in a test expecting none."""
    from rules.config import RulesConfig
    from rules.ruleset import RuleSet
    from rules.testing import parse_test_file

    budgets = {"user_hourly_cost_budget_usd": 25, "team_hourly_token_budget": 20_000_000}
    ruleset = RuleSet.load([], RulesConfig(values=budgets))  # budgets are off by default
    raising = {r.rule_id for r in ruleset.detections if r.generates} | set(ruleset.correlation_ids)
    positive, negative_files = set(), set()
    for path in PACK_TESTS:
        for test in parse_test_file(path).tests:
            positive |= {e.rule for e in test.expected}
            if not test.expected:
                negative_files.add(path.name)
    assert raising <= positive
    assert len(raising) == 16
    rule_files = {
        p.name.replace(".yml", ".test.yml")
        for p in (PACKS_DIR / "claude_code").glob("*.yml")
        if not p.name.endswith(".test.yml")
    }
    assert rule_files <= negative_files
