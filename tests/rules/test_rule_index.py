"""The rule index never drops a match: every key it files a rule under is one the rule needs,
and whole sets of random rules hit exactly what the reference interpreter matches."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import re2
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from rules.model import RuleLoadError
from rules.rule_index import access_keys, choose_clauses, equality_weights, regex_prefix
from rules.ruleset import RuleSet
from rules.timeutil import iso
from tests.rules.conftest import detection
from tests.rules.test_differential import LISTS, detection_item, field_values, sigma_rule

from .interpreter import interpret

events = st.dictionaries(st.sampled_from(["a", "b", "c", "name"]), field_values, max_size=4)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(rule=sigma_rule(), evs=st.lists(events, min_size=1, max_size=8))
def test_an_event_a_rule_matches_passes_one_of_the_rules_keys(rule, evs):
    try:
        tree = SigmaRule.from_dict(rule).detection.parsed_condition[0].parsed
    except SigmaError:
        assume(False)
    keys = access_keys(tree, LISTS)
    hypothesis_event("always tried" if keys is None else f"{min(len(keys), 3)} keys")
    for event in evs:
        if interpret(tree, event, LISTS):
            assert keys is None or any(k.holds(event.get(k.field)) for k in keys), (rule, event)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(rule=sigma_rule(), evs=st.lists(events, min_size=1, max_size=8))
def test_an_event_a_rule_matches_passes_a_key_of_each_of_the_rules_clauses(rule, evs):
    try:
        tree = SigmaRule.from_dict(rule).detection.parsed_condition[0].parsed
    except SigmaError:
        assume(False)
    clauses = choose_clauses(tree, LISTS, equality_weights([tree]))
    hypothesis_event("always tried" if clauses is None else f"{len(clauses)} clauses")
    for event in evs:
        if interpret(tree, event, LISTS):
            assert clauses is None or all(
                any(k.holds(event.get(k.field)) for k in keys) for keys in clauses
            ), (rule, event)


PATTERN_PARTS = ["a", "A", "b", "\\.", "\\-", ".", "?", "*", "+", "{2}", "(a|b)", "[ab]", "$"]


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.sampled_from(PATTERN_PARTS), min_size=1, max_size=5),
    texts=st.lists(st.text(alphabet="aAb.-x", max_size=6), min_size=1, max_size=8),
)
def test_an_anchored_regex_matches_only_texts_starting_with_its_prefix(parts, texts):
    pattern = "^" + "".join(parts)
    rule = {"title": "r", "logsource": {"product": "t"}, "detection": {"s": {"f|re": pattern}}}
    rule["detection"]["condition"] = "s"
    try:
        value = SigmaRule.from_dict(rule).detection.parsed_condition[0].parsed.value
    except SigmaError:
        assume(False)
    prefix = regex_prefix(value)
    for text in texts:
        if re2.search(pattern, text):
            assert text.lower().startswith(prefix.lower()), (pattern, text, prefix)


@st.composite
def rule_set(draw):
    """Several random rules over a few fields: every kind of value, `not`, OR of ANDs, with
    and without `name` tests, sharing values so that the index has choices to make."""
    rules = []
    for i in range(draw(st.integers(2, 12))):
        det: dict = {}
        names = [f"s{j}" for j in range(draw(st.integers(1, 3)))]
        for sel in names:
            items = draw(st.lists(detection_item(), min_size=1, max_size=3))
            if draw(st.booleans()):
                items.append(("name", draw(st.sampled_from(["x", "xa", "Ab", "b*"]))))
            keyword = [v for k, v in items if k is None]
            det[sel] = keyword[0] if keyword else dict(items)
        det["condition"] = draw(
            st.sampled_from(
                [
                    " and ".join(names),
                    " or ".join(names),
                    f"{names[0]} and not {names[-1]}",
                    "1 of s*",
                    f"({names[0]} or {names[-1]}) and not {names[0]}",
                ]
            )
        )
        rules.append(
            {"title": "r", "name": f"r{i}", "logsource": {"product": "t"}, "detection": det}
        )
    return rules


# A set with one rule pySigma refuses does not load at all, so many drawn sets are skipped.
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(rules=rule_set(), evs=st.lists(events, min_size=1, max_size=12))
def test_a_random_rule_set_hits_exactly_what_the_interpreter_matches(rules, evs):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.yml"
        path.write_text(yaml.safe_dump_all(rules), encoding="utf-8")
        try:
            ruleset = RuleSet.load([path])
        except RuleLoadError:
            assume(False)
    lists = ruleset.config.lists
    for event in evs:
        expected = [
            r.rule_id for r in ruleset.detections if interpret(r.condition_tree, event, lists)
        ]
        hypothesis_event(f"hits: {min(len(expected), 2)}")
        assert [h.rule_id for h in ruleset.evaluate(event)[0]] == expected, (rules, event)
    assert ruleset.runtime_errors == {}


def _iso_by_datetime(t: float) -> str:
    whole = int(t // 1)
    millis = round((t - whole) * 1000)
    if millis == 1000:
        whole, millis = whole + 1, 0
    base = dt.datetime.fromtimestamp(whole, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}Z" if millis == 0 else f"{base}.{millis:03d}Z"


@settings(max_examples=500)
@given(t=st.one_of(st.floats(-7e10, 3e11), st.integers(-62135596801, 253402300800)))
def test_evidence_times_read_as_datetime_writes_them(t):
    try:
        expected = _iso_by_datetime(t)
    except (ValueError, OverflowError, OSError) as exc:
        try:
            iso(t)
        except type(exc):
            return
        raise AssertionError(f"{t} should not be representable") from None
    assert iso(t) == expected


# Values that compare equal across types (1, 1.0, True; 0.0, -0.0, False), texts that differ
# only in case, a list, a text too long to remember: what the index's memos must tell apart.
LONG = "x" * 250
_LOOKALIKES = st.sampled_from(
    [1, 1.0, True, "1", 0, 0.0, -0.0, False, "0", "x", "X", "xa", "Ab", "ab", None, ["x"], LONG]
)
_lookalike_events = st.dictionaries(st.sampled_from(["a", "b", "c", "name"]), _LOOKALIKES)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(rules=rule_set(), evs=st.lists(_lookalike_events, min_size=2, max_size=24))
def test_remembered_lookups_answer_as_fresh_ones_for_lookalike_values(rules, evs):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.yml"
        path.write_text(yaml.safe_dump_all(rules), encoding="utf-8")
        try:
            ruleset = RuleSet.load([path])
        except RuleLoadError:
            assume(False)
    lists = ruleset.config.lists
    for event in [*evs, *evs]:  # the second round meets every memo warm
        expected = [
            r.rule_id for r in ruleset.detections if interpret(r.condition_tree, event, lists)
        ]
        assert [h.rule_id for h in ruleset.evaluate(event)[0]] == expected, (rules, event)


_SHELL_RULES = "\n---\n".join(
    detection(body).replace("test-rule", rid)
    for rid, body in [
        ("pipe-to-shell", "sel: {name: shell.run, command|contains: '| sh'}\ncondition: sel"),
        ("alice-fails", "sel: {name: shell.run, user: alice, exit_code: 1}\ncondition: sel"),
        (
            "team-force-push",
            "sel: {name: shell.run, team: pay, command|contains: 'push --force'}\ncondition: sel",
        ),
        (
            "bob-starts-curl",
            "sel: {name: shell.run, user|startswith: bo, command|startswith: curl}\ncondition: sel",
        ),
    ]
)


def test_a_field_that_varies_most_is_looked_up_alone_and_nothing_changes(load_rules, monkeypatch):
    """Commands are nearly all new: kept in the combined memo's key, no combination would
    repeat. Once the working set fills, the command leaves the key and the rest repeats."""
    monkeypatch.setattr("rules.rule_index.MEMO_LIMIT", 16)
    monkeypatch.setattr("rules.rule_index.VARIED", 8)
    ruleset = load_rules(_SHELL_RULES)
    entry = ruleset.index._by_name["shell.run"]
    assert "command" in entry.names and not entry.alone
    users, teams = ["alice", "bob", "Bo"], ["pay", "PAY", "web"]
    codes: list[object] = [0, 1, True, 1.0, "1", None]
    tails = ["| sh", "push --force", "", " | SH"]
    lists = ruleset.config.lists
    for i in range(120):
        event = {
            "name": "shell.run",
            "user": users[i % 3],
            "team": teams[i // 3 % 3],
            "exit_code": codes[i % 6],
            "command": f"{'curl' if i % 5 == 0 else 'git'} {i} {tails[i % 4]}",
        }
        expected = [
            r.rule_id for r in ruleset.detections if interpret(r.condition_tree, event, lists)
        ]
        assert [h.rule_id for h in ruleset.evaluate(event)[0]] == expected, event
    assert entry.alone_names == ("command",)
    assert "command" not in entry.names and 0 < len(entry.combined) <= 16
    bad = {"name": "shell.run", "user": "bob", "team": "pay", "exit_code": 1}
    for i in range(4):  # new commands, a combination of the rest already remembered
        hits, _ = ruleset.evaluate({**bad, "command": f"curl x{i} | sh && git push --force"})
        assert [h.rule_id for h in hits] == ["pipe-to-shell", "team-force-push", "bob-starts-curl"]


def test_a_two_clause_rule_is_tried_on_the_event_that_splits_a_field_off_and_gated_anew_after(
    load_rules, monkeypatch
):
    """`team-force-push` needs a command with `push --force` and, as its gate, the team pay.
    Before the split the combined memo applies the gate, after it the command's own lookup
    does: the event that fills the working set must still meet the rule (its gate was applied
    already, and must not be applied again to slots that no longer show it), and after the
    split an event of another team must not."""
    monkeypatch.setattr("rules.rule_index.MEMO_LIMIT", 16)
    monkeypatch.setattr("rules.rule_index.VARIED", 8)
    ruleset = load_rules(_SHELL_RULES)
    entry = ruleset.index._by_name["shell.run"]
    base = {"name": "shell.run", "user": "carol", "exit_code": 0}

    def tried(event: dict[str, object]) -> list[str]:
        return [rule.rule_id for rule, _ in ruleset.index.candidates(event)]

    for i in range(24):  # new commands: the working set fills and the command goes alone
        event = {**base, "team": "pay", "command": f"git push --force origin b{i}"}
        assert [h.rule_id for h in ruleset.evaluate(event)[0]] == ["team-force-push"], i
    assert entry.alone_names == ("command",)
    pushed_by_web = {**base, "team": "web", "command": "git push --force origin main"}
    assert tried(pushed_by_web) == []
    assert ruleset.evaluate(pushed_by_web)[0] == []
    assert tried({**pushed_by_web, "team": "PAY"}) == ["team-force-push"]
