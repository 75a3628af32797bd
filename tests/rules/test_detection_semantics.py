"""Detection rules: every value modifier and condition form, on flat normalised events."""

from __future__ import annotations

import pytest

from rules.config import RulesConfig
from tests.rules.conftest import detection


def matches(load_rules, body: str, event: dict, config: RulesConfig | None = None) -> bool:
    ruleset = load_rules(detection(body), config)
    hits, _ = ruleset.evaluate({"time": 1.0, **event})
    return bool(hits)


CASES = [
    # (detection body, event, expected)
    ("sel:\n  command: 'git status'\ncondition: sel", {"command": "GIT Status"}, True),
    ("sel:\n  command|cased: 'git status'\ncondition: sel", {"command": "GIT Status"}, False),
    ("sel:\n  command|contains: 'rm -rf'\ncondition: sel", {"command": "sudo RM -RF /"}, True),
    ("sel:\n  command|startswith: 'git '\ncondition: sel", {"command": "sgit x"}, False),
    ("sel:\n  command|endswith: '.sh'\ncondition: sel", {"command": "run.SH"}, True),
    ("sel:\n  command: 'git * main'\ncondition: sel", {"command": "git push origin main"}, True),
    ("sel:\n  command: 'ab?d'\ncondition: sel", {"command": "abcd"}, True),
    ("sel:\n  command: 'ab?d'\ncondition: sel", {"command": "abd"}, False),
    ("sel:\n  command: 'a\\*b'\ncondition: sel", {"command": "a*b"}, True),
    ("sel:\n  command: 'a\\*b'\ncondition: sel", {"command": "axb"}, False),
    ("sel:\n  command|contains|all: [curl, sh]\ncondition: sel", {"command": "curl x | sh"}, True),
    (
        "sel:\n  command|contains|all: [curl, zsh]\ncondition: sel",
        {"command": "curl x | sh"},
        False,
    ),
    ("sel:\n  command: [a, b, c]\ncondition: sel", {"command": "B"}, True),
    ("sel:\n  x: 1\n  y: 2\ncondition: sel", {"x": 1, "y": 3}, False),
    ("sel:\n  - x: 1\n  - y: 2\ncondition: sel", {"x": 0, "y": 2}, True),
    ("sel:\n  exit_code: 0\ncondition: sel", {"exit_code": 0}, True),
    ("sel:\n  exit_code: 0\ncondition: sel", {"exit_code": "0"}, True),
    ("sel:\n  exit_code: 0\ncondition: sel", {"exit_code": False}, False),
    ("sel:\n  cache_hit: true\ncondition: sel", {"cache_hit": True}, True),
    ("sel:\n  cache_hit: true\ncondition: sel", {"cache_hit": 1}, False),
    ("sel:\n  cache_hit: false\ncondition: sel", {"cache_hit": "FALSE"}, True),
    ("sel:\n  error_type: null\ncondition: sel", {}, True),
    ("sel:\n  error_type: null\ncondition: sel", {"error_type": "Boom"}, False),
    ("sel:\n  tokens_in|gt: 100\ncondition: sel", {"tokens_in": 101}, True),
    ("sel:\n  tokens_in|gte: 100\ncondition: sel", {"tokens_in": 100.0}, True),
    ("sel:\n  tokens_in|lt: 100\ncondition: sel", {"tokens_in": "99.5"}, True),
    ("sel:\n  tokens_in|lte: 100\ncondition: sel", {"tokens_in": "lots"}, False),
    ("sel:\n  tokens_in|gt: 100\ncondition: sel", {"tokens_in": True}, False),
    ("sel:\n  region|exists: true\ncondition: sel", {"region": "us-east-1"}, True),
    ("sel:\n  region|exists: false\ncondition: sel", {}, True),
    ("sel:\n  region|exists: true\ncondition: sel", {"region": None}, False),
    ("sel:\n  user|fieldref: team\ncondition: sel", {"user": "Ops", "team": "ops"}, True),
    ("sel:\n  user|fieldref: team\ncondition: sel", {"user": "ops"}, False),
    (
        "sel:\n  command|fieldref|contains: repo\ncondition: sel",
        {"command": "cd web && ls", "repo": "web"},
        True,
    ),
    ("sel:\n  ip|cidr: 10.0.0.0/8\ncondition: sel", {"ip": "10.2.3.4"}, True),
    ("sel:\n  ip|cidr: 10.0.0.0/8\ncondition: sel", {"ip": "11.2.3.4"}, False),
    ("sel:\n  ip|cidr: 10.0.0.0/8\ncondition: sel", {"ip": "not an ip"}, False),
    ("sel:\n  command|re: 'curl.*\\|\\s*sh'\ncondition: sel", {"command": "x curl a | sh"}, True),
    ("sel:\n  command|re: '^curl'\ncondition: sel", {"command": "x curl"}, False),
    ("sel:\n  command|re: 'CURL'\ncondition: sel", {"command": "curl"}, False),
    ("sel:\n  command|re|i: 'CURL'\ncondition: sel", {"command": "curl"}, True),
    ("sel:\n  command|re|m: '^b$'\ncondition: sel", {"command": "a\nb\nc"}, True),
    ("sel:\n  command|re|s: 'a.b'\ncondition: sel", {"command": "a\nb"}, True),
    ("sel:\n  command|re: 'a.b'\ncondition: sel", {"command": "a\nb"}, False),
    ("sel:\n  payload|base64: 'secret'\ncondition: sel", {"payload": "c2VjcmV0"}, True),
    (
        "sel:\n  payload|base64offset|contains: 'secret'\ncondition: sel",
        {"payload": "eHNlY3JldA=="},
        True,
    ),
    ("sel:\n  command|windash|contains: ' -force'\ncondition: sel", {"command": "x /force"}, True),
    ("sel:\n  time|hour: 3\ncondition: sel", {"time": 3 * 3600.0 + 5}, True),
    ("sel:\n  time|hour: 4\ncondition: sel", {"time": 3 * 3600.0 + 5}, False),
    ("kw:\n  - '*AKIA*'\ncondition: kw", {"command": "x", "prompt": "key akia123"}, True),
    ("kw:\n  - 'AKIA'\ncondition: kw", {"command": "x", "prompt": "key akia123"}, False),
    ("kw:\n  - '*AKIA*'\ncondition: kw", {"command": "x", "n": 1}, False),
    ("a:\n  x: 1\nb:\n  y: 2\ncondition: a and not b", {"x": 1, "y": 3}, True),
    ("a:\n  x: 1\nb:\n  y: 2\ncondition: a and not b", {"x": 1, "y": 2}, False),
    ("s_1:\n  x: 1\ns_2:\n  y: 2\ncondition: 1 of s_*", {"y": 2}, True),
    ("s_1:\n  x: 1\ns_2:\n  y: 2\ncondition: all of s_*", {"y": 2}, False),
    ("s_1:\n  x: 1\ns_2:\n  y: 2\ncondition: all of them", {"x": 1, "y": 2}, True),
    ("a:\n  x: 1\nb:\n  y: 2\nc:\n  z: 3\ncondition: a and (b or c)", {"x": 1, "z": 3}, True),
    ("a:\n  x: 1\nb:\n  y: 2\nc:\n  z: 3\ncondition: (a and b) or c", {"x": 1}, False),
]


@pytest.mark.parametrize(("body", "event", "expected"), CASES)
def test_detection_modifiers_and_conditions_follow_sigma(load_rules, body, event, expected):
    assert matches(load_rules, body, event) is expected


def test_placeholders_expand_from_configured_lists(load_rules):
    config = RulesConfig(lists={"vips": ["alice", "bob*", "c?rol", "dave\\*"]})
    body = "sel:\n  user|expand: '%vips%'\ncondition: sel"
    assert matches(load_rules, body, {"user": "ALICE"}, config)
    # list values are Sigma strings: `*` and `?` are wildcards, `\*` a literal star
    assert matches(load_rules, body, {"user": "bobby"}, config)
    assert matches(load_rules, body, {"user": "Carol"}, config)
    assert not matches(load_rules, body, {"user": "caarol"}, config)
    assert matches(load_rules, body, {"user": "dave*"}, config)
    assert not matches(load_rules, body, {"user": "daved"}, config)
    assert not matches(load_rules, body, {"user": "alice2"}, config)


def test_list_patterns_inside_a_larger_pattern(load_rules):
    config = RulesConfig(lists={"models": ["anthropic.claude-*-4-5", "meta.llama3"]})
    body = "sel:\n  model|expand: '%models%*'\ncondition: sel"
    assert matches(load_rules, body, {"model": "anthropic.claude-sonnet-4-5"}, config)
    assert matches(load_rules, body, {"model": "meta.llama3-1-70b"}, config)
    assert not matches(load_rules, body, {"model": "anthropic.claude-3-opus"}, config)


def test_placeholders_inside_a_pattern_and_a_regex(load_rules):
    config = RulesConfig(lists={"branches": ["main", "re.lease"]})
    body = "sel:\n  ref|expand: 'refs/heads/%branches%*'\ncondition: sel"
    assert matches(load_rules, body, {"ref": "refs/heads/main-2"}, config)
    assert not matches(load_rules, body, {"ref": "refs/heads/dev"}, config)
    body = "sel:\n  ref|re|expand: '^%branches%$'\ncondition: sel"
    assert matches(load_rules, body, {"ref": "re.lease"}, config)
    assert not matches(load_rules, body, {"ref": "reXlease"}, config)  # list values are escaped


@pytest.mark.parametrize(
    "odd",
    [None, 3, 2.5, float("nan"), float("inf"), True, [], ["x"], {"a": 1}, b"bytes", 10**5000, ""],
    ids=lambda v: type(v).__name__,
)
def test_missing_or_odd_typed_fields_never_raise(load_rules, odd):
    body = """
    s_str:
      f|contains: x
    s_re:
      f|re: 'x+'
    s_num:
      f|gt: 1
    s_cidr:
      f|cidr: 10.0.0.0/8
    s_ref:
      f|fieldref: g
    s_time:
      f|hour: 1
    s_bool:
      f: true
    s_eq:
      f: [a, 1, 2.5]
    condition: 1 of s_*
    """
    ruleset = load_rules(detection(body))
    for event in ({"f": odd, "g": odd}, {}, {"time": odd}):
        hits, inputs = ruleset.evaluate(event)
        assert isinstance(hits, list)
        assert inputs == []
    assert ruleset.runtime_errors == {}


def test_rule_only_runs_on_span_names_it_requires(load_rules):
    ruleset = load_rules(
        detection("sel:\n  name: shell.run\n  command|contains: x\ncondition: sel")
    )
    assert ruleset.evaluate({"name": "SHELL.RUN", "command": "x"})[0]
    assert not ruleset.evaluate({"name": "claude.invoke", "command": "x"})[0]
    assert not ruleset.evaluate({"command": "x"})[0]


def test_hit_carries_severity_group_labels_runbook_and_resolve_after(load_rules):
    extra = (
        "spanwatch:\n  group-by: [user, repo]\n  labels: {team: sec}\n"
        "  runbook: https://runbooks/x\n  resolve-after: 15m\n"
    )
    text = detection("sel:\n  command|contains: x\ncondition: sel", extra).replace(
        "level: high", "level: informational"
    )
    hits, _ = load_rules(text).evaluate({"time": 7.5, "command": "x", "user": "al", "n": 1})
    [hit] = hits
    assert hit.rule_id == "test-rule"
    assert hit.severity == "info"
    assert hit.time == 7.5
    assert hit.group == {"user": "al", "repo": ""}
    assert hit.labels == {"team": "sec"}
    assert hit.runbook == "https://runbooks/x"
    assert hit.resolve_after == 900.0
    assert hit.evidence["command"] == "x"


def test_detection_hits_are_grouped_by_user_by_default(load_rules):
    hits, _ = load_rules(detection("sel:\n  x: 1\ncondition: sel")).evaluate({"x": 1, "team": "t"})
    assert hits[0].group == {"user": ""}


def test_evidence_never_shows_a_credential(load_rules):
    ruleset = load_rules(detection("sel:\n  command|contains: aws\ncondition: sel"))
    hits, _ = ruleset.evaluate({"command": "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE aws s3 ls"})
    assert "AKIAIOSFODNN7EXAMPLE" not in str(hits[0].evidence)
    assert "AKIA" in hits[0].evidence["command"]


@pytest.mark.parametrize(("written", "budget"), [("25", 25), ("'off'", 0), ("", None)])
def test_hit_carries_the_rules_noise_budget(load_rules, written, budget):
    extra = f"spanwatch:\n  noise-budget: {written}\n" if written else ""
    text = detection("sel:\n  command|contains: x\ncondition: sel", extra)
    [hit] = load_rules(text).evaluate({"time": 1.0, "command": "x"})[0]
    assert hit.noise_budget == budget
