"""The hot path's shortcuts change no output: evidence built only when shown, the window's
evidence built only for a hit, the shared empty result, the direct RE2 calls."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.compiler import re2_test
from rules.evidence import event_evidence, evidence_names, redact
from rules.ruleset import NO_OUTPUT, _EventEvidence
from rules.testing import run_events
from tests.rules.conftest import detection
from tests.rules.test_correlation import BASE, correlation

SECRET = "AKIAIOSFODNN7EXAMPLE"


def test_correlation_input_evidence_is_the_matching_events_evidence(load_rules):
    ruleset = load_rules(correlation("value_sum", "{gt: 10, field: cost}"))
    event = {
        "time": 61.25,
        "user": "al",
        "session": "s1",
        "status": "error",
        "cost": 4.0,
        "command": f"export K={SECRET}",
        "prompt": "x" * 400,
    }
    [inp] = ruleset.evaluate(event)[1]
    [rule] = [r for r in ruleset.detections if r.rule_id == "failed"]
    assert inp.evidence == event_evidence(event, rule.evidence_fields)
    assert inp.evidence == {
        "time": "1970-01-01T00:01:01.250Z",
        "session": "s1",
        "user": "al",
        "status": "error",
        "cost": 4.0,
    }
    assert pickle.loads(pickle.dumps(inp)) == inp


def test_input_evidence_is_taken_when_the_rule_matches_not_when_shown(load_rules):
    ruleset = load_rules(correlation("event_count", "{gte: 1}"))
    event = {"time": 1.0, "user": "al", "status": "error"}
    [inp] = ruleset.evaluate(event)[1]
    event["user"] = "someone else"
    assert inp.evidence["user"] == "al"


def test_window_hit_shows_the_evidence_of_the_input_that_fired_it(load_rules):
    ruleset = load_rules(correlation("event_count", "{gte: 2}"))
    events = [
        {"time": 1.0, "user": "al", "status": "error", "trace_id": "t1"},
        {"time": 2.0, "user": "al", "status": "error", "trace_id": "t2"},
    ]
    [hit] = [h for h in run_events(ruleset, events) if h.rule_id == "corr"]
    assert hit.evidence == {
        "type": "event_count",
        "timespan": "10m",
        "events": 2,
        "last_event": {
            "time": "1970-01-01T00:00:02Z",
            "trace_id": "t2",
            "user": "al",
            "status": "error",
        },
    }


@pytest.mark.parametrize(
    ("kind", "condition", "rules", "expected"),
    [
        ("value_sum", "{gte: 5, field: cost}", "[failed]", {"events": 2, "sum": 6.0}),
        ("value_avg", "{gte: 2, field: cost}", "[failed]", {"events": 2, "avg": 3.0}),
        (
            "value_count",
            "{gte: 2, field: repo}",
            "[failed]",
            {"distinct": 2, "saturated": False, "values": ["a", "b"]},
        ),
        (
            "value_percentile",
            "{gte: 1, field: cost, percentile: 75}",
            "[failed]",
            {"percentile": 75.0, "value": 3.5, "sample": 2},
        ),
        ("value_median", "{gte: 1, field: cost}", "[failed]", {"percentile": 50.0, "value": 3.0}),
        ("temporal", "{gte: 2}", "[failed, big]", {"rules_seen": ["big", "failed"]}),
        ("temporal_ordered", "{gte: 2}", "[failed, big]", {"ordered_rules": 2}),
    ],
)
def test_window_hit_evidence_for_every_correlation_type(
    load_rules, kind, condition, rules, expected
):
    ruleset = load_rules(correlation(kind, condition, rules=rules))
    events = [
        {"time": 1.0, "user": "al", "status": "error", "cost": 2.0, "repo": "a"},
        {"time": 2.0, "user": "al", "status": "error", "cost": 4.0, "repo": "b", "tokens_in": 2e3},
    ]
    hits = [h for h in run_events(ruleset, events) if h.rule_id == "corr"]
    evidence = hits[-1].evidence
    assert evidence["type"] == kind
    assert evidence["timespan"] == "10m"
    assert {k: evidence[k] for k in expected} == expected
    assert evidence["last_event"]["time"] == "1970-01-01T00:00:02Z"


def test_an_event_matching_nothing_gets_the_shared_read_only_empty_result(load_rules):
    ruleset = load_rules(BASE.rstrip("-\n"))
    hits, inputs = ruleset.evaluate({"time": 1.0, "status": "ok"})
    assert hits == [] and inputs == []
    assert hits is NO_OUTPUT and inputs is NO_OUTPUT
    for grow in (
        lambda: hits.append(1),
        lambda: hits.extend([1]),
        lambda: hits.insert(0, 1),
        lambda: hits.__setitem__(slice(0, 0), [1]),
        lambda: hits.__iadd__([1]),
    ):
        with pytest.raises(TypeError, match="read-only"):
            grow()
    assert NO_OUTPUT == []
    found, _ = ruleset.evaluate({"time": 2.0, "status": "error"})
    assert [h.rule_id for h in found] == ["failed"]
    assert found is not NO_OUTPUT


def test_evidence_redacts_text_that_re2_cannot_take_instead_of_failing(load_rules):
    assert redact(f"\ud800 {SECRET}") == "? AKIA…[redacted sha256:1a5d44a2dca19669]"
    ruleset = load_rules(detection("sel:\n  command|contains: aws\ncondition: sel"))
    hits, _ = ruleset.evaluate({"command": f"aws \udcff {SECRET}"})
    assert SECRET not in str(hits[0].evidence)
    assert ruleset.runtime_errors == {}


PATTERNS = ["a", "^a", "a$", "(a|é)+b", "^$", "(?i)É", r"\bx\b", "", "a.*?b", r"\pL{2}"]


@settings(max_examples=150, deadline=None)
@given(pattern=st.sampled_from(PATTERNS), text=st.text(alphabet="aAbxé É\n€𝄞", max_size=8))
def test_direct_re2_test_answers_as_re2_search_and_fullmatch(pattern, text):
    assert re2_test(pattern)(text) == (re2.search(pattern, text) is not None)
    assert re2_test(pattern, whole=True)(text) == (re2.fullmatch(pattern, text) is not None)


def test_direct_re2_test_refuses_text_re2_cannot_take_like_search_does():
    with pytest.raises(UnicodeEncodeError):
        re2.search("a", "\ud800")
    with pytest.raises(UnicodeEncodeError):
        re2_test("a")("\ud800")


def test_a_leaked_aws_key_is_named_by_a_digest_never_by_its_id():
    import hashlib

    text = redact(f"aws configure set aws_access_key_id {SECRET} && aws s3 ls")
    digest = hashlib.sha256(SECRET.encode()).hexdigest()[:16]
    assert (
        text == f"aws configure set aws_access_key_id AKIA…[redacted sha256:{digest}] && aws s3 ls"
    )
    assert SECRET[4:] not in text
    other = redact("AKIAABCDEFGHIJKLMNOP")
    assert other.startswith("AKIA…[redacted sha256:") and other != text.split()[-4]


_NAMES = ["time", "user", "session", "command", "prompt", "cost", "status", "repo", "tags"]
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from([f"export K={SECRET}", "y" * 350, "password=hunter22", "ok"]),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(
    event=st.dictionaries(st.sampled_from(_NAMES), _VALUES),
    rule_fields=st.lists(st.lists(st.sampled_from(_NAMES), max_size=5), min_size=1, max_size=6),
)
def test_evidence_shared_by_the_hits_of_one_event_is_each_rules_own(event, rule_fields):
    shown = _EventEvidence(event)
    rules = [
        SimpleNamespace(evidence_fields=tuple(f), evidence_names=evidence_names(f))
        for f in rule_fields
    ]
    built = [shown.of(rule).build() for rule in rules]
    assert built == [event_evidence(event, fields) for fields in rule_fields]
    assert [list(b) for b in built] == [list(event_evidence(event, f)) for f in rule_fields]
    if len(built) > 1:  # each hit owns its dict
        built[0]["extra"] = 1
        assert "extra" not in built[1]


def test_every_hit_of_an_event_matching_many_rules_has_its_own_rules_evidence(load_rules):
    rules = "\n---\n".join(
        detection("sel: {status: error}\ncondition: sel").replace("test-rule", f"r{i}")
        + f"fields: [{', '.join(fields)}]\n"
        for i, fields in enumerate([["command"], ["prompt", "command"], ["cost"], []])
    )
    ruleset = load_rules(rules)
    event = {"time": 3.5, "user": "al", "status": "error", "command": f"K={SECRET}", "cost": 2}
    hits, _ = ruleset.evaluate(event)
    by_id = {r.rule_id: r for r in ruleset.detections}
    assert [h.rule_id for h in hits] == ["r0", "r1", "r2", "r3"]
    for hit in hits:
        assert hit.evidence == event_evidence(event, by_id[hit.rule_id].evidence_fields)
    assert SECRET not in repr(hits)
