"""The name index: each event is tried only against the rules its `name` allows, with no change
in what matches (a rule is sent everywhere whenever its `name` test is anything but plain)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from rules import rule_index as rule_index_module
from rules.compiler import compile_condition, plain_values, required_values, specialise
from rules.model import RuleLoadError
from rules.ruleset import RuleSet
from tests.rules.conftest import detection
from tests.rules.test_differential import LISTS, detection_item, field_values

from .interpreter import interpret

SHELL_RULE = detection("sel:\n  name: shell.run\n  command|contains: x\ncondition: sel")
ANY_RULE = detection("sel:\n  command|contains: x\ncondition: sel").replace("test-rule", "any")
ODD_NAMES = [
    {"name": "shell.run"},
    {"name": "SHELL.Run"},
    {"name": "claude.invoke"},
    {"name": "never.seen"},
    {"name": ""},
    {"name": 5},
    {"name": True},
    {"name": None},
    {"name": ["shell.run"]},
    {},
]


def tried(ruleset: RuleSet, event: dict) -> list[str]:
    return [rule.rule_id for rule, _ in ruleset.index.candidates(event)]


def test_rule_without_a_name_test_is_tried_on_every_event(load_rules):
    ruleset = load_rules(SHELL_RULE + "---\n" + ANY_RULE)
    for event in ODD_NAMES:
        assert "any" in tried(ruleset, {**event, "command": "x"}), event
        assert [h.rule_id for h in ruleset.evaluate({**event, "command": "x"})[0]].count("any") == 1


def test_rule_on_shell_run_is_tried_only_on_shell_run_events(load_rules):
    ruleset = load_rules(SHELL_RULE + "---\n" + ANY_RULE)
    for event in ODD_NAMES:
        expected = isinstance(event.get("name"), str) and event["name"].lower() == "shell.run"
        assert ("test-rule" in tried(ruleset, {**event, "command": "x"})) is expected, event
        hits, _ = ruleset.evaluate({**event, "command": "x"})
        assert ("test-rule" in [h.rule_id for h in hits]) is expected, event


@pytest.mark.parametrize(
    ("body", "matching_name"),
    [
        ("sel:\n  name|contains: shell\ncondition: sel", "my.shell.run"),
        ("sel:\n  name|startswith: shell\ncondition: sel", "shell.exec"),
        ("sel:\n  name: 'shell.*'\ncondition: sel", "shell.exec"),
        ("sel:\n  name: 'shell.ru?'\ncondition: sel", "shell.rug"),
        ("sel:\n  name|cased: shell.run\ncondition: sel", "shell.run"),
        ("sel:\n  name|re: '^sh'\ncondition: sel", "shx"),
        ("sel:\n  name: shell.run\ncondition: not sel", "claude.invoke"),
        ("a:\n  name: shell.run\nb:\n  command: x\ncondition: a or b", "claude.invoke"),
        ("sel:\n  name: [shell.run, '*invoke']\ncondition: sel", "claude.invoke"),
        ("sel:\n  name: null\ncondition: sel", None),
        ("sel:\n  name|exists: false\ncondition: sel", None),
    ],
)
def test_rules_whose_name_test_is_not_plain_are_tried_wherever_they_can_match(
    load_rules, body, matching_name
):
    ruleset = load_rules(detection(body))
    [rule] = ruleset.detections
    for event in ODD_NAMES:
        if interpret(rule.condition_tree, event, {}):
            assert tried(ruleset, event) == ["test-rule"], event
    event = {"command": "x"} if matching_name is None else {"name": matching_name, "command": "x"}
    assert [h.rule_id for h in ruleset.evaluate(event)[0]] == ["test-rule"]


def test_rule_naming_several_spans_is_tried_on_each_of_them_only(load_rules):
    ruleset = load_rules(
        detection("sel:\n  name: [shell.run, claude.invoke]\n  command: x\ncondition: sel")
    )
    assert tried(ruleset, {"name": "Claude.Invoke", "command": "X"}) == ["test-rule"]
    assert tried(ruleset, {"name": "shell.run", "command": "x"}) == ["test-rule"]
    assert tried(ruleset, {"name": "pr.create", "command": "x"}) == []
    assert tried(ruleset, {"command": "x"}) == []


def test_a_numeric_name_is_looked_up_by_its_text_as_string_tests_compare_it(load_rules):
    ruleset = load_rules(detection("sel:\n  name: '5'\n  command: x\ncondition: sel"))
    assert [h.rule_id for h in ruleset.evaluate({"name": 5, "command": "x"})[0]] == ["test-rule"]
    assert ruleset.evaluate({"name": 5.5, "command": "x"})[0] == []


def test_lookups_of_unknown_names_stay_right_once_their_cache_is_full(load_rules, monkeypatch):
    monkeypatch.setattr(rule_index_module, "NAME_CACHE_LIMIT", 3)
    ruleset = load_rules(SHELL_RULE + "---\n" + ANY_RULE)
    for i in range(10):
        assert tried(ruleset, {"name": f"other.{i}", "command": "x"}) == ["any"]
        shell = {"name": ["Shell.RUN", "sHELL.run"][i % 2], "command": "x"}
        assert tried(ruleset, shell) == ["test-rule", "any"]
    assert tried(ruleset, {"name": "other.1", "command": "x"}) == ["any"]  # remembered
    assert tried(ruleset, {"name": "other.9", "command": "x"}) == ["any"]  # looked up afresh


def test_rules_are_tried_only_on_events_that_pass_a_test_they_need(load_rules):
    """Each rule is filed under one test it needs: a value, a prefix (also of an anchored
    `re`), a substring, or the field's presence."""
    text = "\n---\n".join(
        detection(body).replace("test-rule", rid)
        for rid, body in [
            ("core", "sel:\n  name: shell.run\n  team: core\ncondition: sel"),
            ("data", "sel:\n  name: shell.run\n  team: [data, ML]\ncondition: sel"),
            ("push", "sel:\n  command|contains: push\ncondition: sel"),
            ("rm", "sel:\n  command|re: '^rm'\ncondition: sel"),
        ]
    )
    ruleset = load_rules(text)
    assert tried(ruleset, {"name": "shell.run", "team": "CORE"}) == ["core"]
    assert tried(ruleset, {"name": "shell.run", "team": "ml", "command": "ls"}) == ["data"]
    assert tried(ruleset, {"name": "shell.run", "command": "RM -f; git PUSH"}) == ["push", "rm"]
    assert tried(ruleset, {"name": "shell.run", "team": "other"}) == []
    assert tried(ruleset, {"name": "shell.run", "team": True, "command": None}) == []
    hits, _ = ruleset.evaluate({"name": "Shell.Run", "team": "Data", "command": "rm -rf push"})
    assert [h.rule_id for h in hits] == ["data", "push", "rm"]


def test_a_rule_needing_two_texts_is_tried_only_where_both_hold(load_rules):
    """An equality and a substring (or a pattern) in one AND, or in each branch of an OR of
    ANDs: the rule meets only events that pass a test of each of its two needs."""
    text = "\n---\n".join(
        detection(body).replace("test-rule", rid)
        for rid, body in [
            ("core-push", "sel:\n  team: core\n  command|contains: push\ncondition: sel"),
            ("data-rm", "sel:\n  team: data\n  command|re: '^rm'\ncondition: sel"),
            (
                "either",
                "a:\n  team: ops\n  command|contains: curl\n"
                "b:\n  team: [ml, ai]\n  command|startswith: wget\ncondition: a or b",
            ),
        ]
    )
    ruleset = load_rules(text)
    assert tried(ruleset, {"name": "shell.run", "team": "core", "command": "git pull"}) == []
    assert tried(ruleset, {"name": "shell.run", "team": "Core", "command": "GIT PUSH"}) == [
        "core-push"
    ]
    assert tried(ruleset, {"name": "shell.run", "team": "data", "command": "ls; rm x"}) == []
    assert tried(ruleset, {"name": "shell.run", "team": "data", "command": "rm x"}) == ["data-rm"]
    assert tried(ruleset, {"name": "shell.run", "team": "ops", "command": "wget x"}) == []
    assert tried(ruleset, {"name": "shell.run", "team": "ML", "command": "wget x"}) == ["either"]
    assert tried(ruleset, {"name": "shell.run", "team": "ai", "command": "ls"}) == []
    hits, _ = ruleset.evaluate({"name": "shell.run", "team": "OPS", "command": "curl x"})
    assert [h.rule_id for h in hits] == ["either"]


def test_lower_casing_lower_cased_text_changes_nothing():
    """`compiler.specialise` relies on it; checked for every code point and the final sigma."""
    for code in range(0x110000):
        low = chr(code).lower()
        assert low.lower() == low, hex(code)
    assert "ΟΔΟΣ ΟΔΟΣ".lower().lower() == "ΟΔΟΣ ΟΔΟΣ".lower()


# --- property tests: the index and its specialised matchers change no outcome -------------------

NAME_TEXTS = ["shell.run", "Shell.Run", "claude.invoke", "pr.create", "", "5", "ab"]


@st.composite
def name_item(draw):
    """A test on `name`: plain, a list, wildcards, modifiers, `re`, null or exists."""
    kind = draw(st.sampled_from(["plain", "list", "wild", "mod", "re", "null", "exists", "num"]))
    if kind == "plain":
        return "name", draw(st.sampled_from(NAME_TEXTS))
    if kind == "list":
        return "name", draw(st.lists(st.sampled_from([*NAME_TEXTS, "shell*"]), min_size=2))
    if kind == "wild":
        return "name", draw(st.sampled_from(["shell*", "*.run", "?b", "*"]))
    if kind == "mod":
        mod = draw(st.sampled_from(["|contains", "|startswith", "|endswith", "|cased"]))
        return "name" + mod, draw(st.sampled_from(NAME_TEXTS))
    if kind == "re":
        return "name|re", draw(st.sampled_from(["^shell", "run$", "^$"]))
    if kind == "null":
        return "name", None
    if kind == "exists":
        return "name|exists", draw(st.booleans())
    return "name", 5


@st.composite
def rule_with_name_tests(draw):
    names = [f"sel{i}" for i in range(draw(st.integers(1, 3)))]
    det: dict = {}
    for sel in names:
        items = draw(
            st.lists(st.one_of(name_item(), name_item(), detection_item()), min_size=1, max_size=3)
        )
        keyword = [v for k, v in items if k is None]
        det[sel] = keyword[0] if keyword else dict(items)

    def expr(depth):
        atoms = st.sampled_from([*names, "1 of sel*", "all of sel*"])
        if depth == 0:
            return atoms
        return st.one_of(
            atoms,
            st.builds(lambda a: f"not {a}", expr(depth - 1)),
            st.builds(lambda a, b: f"({a} and {b})", expr(depth - 1), expr(depth - 1)),
            st.builds(lambda a, b: f"({a} or {b})", expr(depth - 1), expr(depth - 1)),
        )

    det["condition"] = draw(expr(2))
    return {"title": "random", "logsource": {"product": "test"}, "detection": det}


event_names = st.one_of(
    st.sampled_from([*NAME_TEXTS, "SHELL.RUN", "other", "shell.x"]),
    st.sampled_from([5, 5.0, True, None]),
)


@st.composite
def named_event(draw):
    event = draw(st.dictionaries(st.sampled_from(["a", "b", "c"]), field_values, max_size=3))
    if draw(st.booleans()):
        event["name"] = draw(event_names)
    return event


def filed_under(name: object, keys: set[str]) -> str | None:
    """The key the name index looks an event up by (RuleSet.evaluate), None: under none."""
    if isinstance(name, bool) or not isinstance(name, str | int | float):
        return None
    text = name if isinstance(name, str) else str(name)
    if text in keys:
        return text
    return text.lower() if text.lower() in keys else None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rule=rule_with_name_tests(),
    other_keys=st.sets(st.sampled_from(["other", "claude.invoke", "5", "shell.x"])),
    data=st.data(),
)
def test_specialised_condition_agrees_with_the_reference_interpreter(rule, other_keys, data):
    try:
        tree = SigmaRule.from_dict(rule).detection.parsed_condition[0].parsed
    except SigmaError:
        assume(False)
    keys = plain_values(tree, "name") | other_keys  # the index's keys: every rule's plain values
    dispatch = required_values(tree, "name")
    key_names = st.sampled_from(sorted(keys) or ["no.keys"]).flatmap(
        lambda k: st.sampled_from([k, k.upper(), k.title()])
    )
    for event in data.draw(st.lists(named_event(), min_size=1, max_size=6)):
        if data.draw(st.booleans()):
            event["name"] = data.draw(key_names)  # half the events under (a case of) a key
        expected = interpret(tree, event, LISTS)
        key = filed_under(event.get("name"), keys)
        hypothesis_event(f"under {'no key' if key is None else 'a key'}, matched: {expected}")
        if dispatch is not None and key not in dispatch:
            assert not expected, (rule, event)  # the index never tries the rule on this event
        matcher = compile_condition(specialise(tree, "name", key), LISTS)
        assert matcher(event) == expected, (rule, event, key)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=st.lists(rule_with_name_tests(), min_size=1, max_size=3),
    evs=st.lists(named_event(), min_size=1, max_size=8),
)
def test_evaluate_hits_exactly_the_rules_the_interpreter_matches(rules, evs):
    docs = [{**r, "name": f"r{i}", "level": "high"} for i, r in enumerate(rules)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.yml"
        path.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
        try:
            ruleset = RuleSet.load([path])
        except RuleLoadError:
            assume(False)
    lists = ruleset.config.lists
    for event in evs:
        expected = [
            r.rule_id for r in ruleset.detections if interpret(r.condition_tree, event, lists)
        ]
        hits, _ = ruleset.evaluate(event)
        assert [h.rule_id for h in hits] == expected, (docs, event)
        assert set(expected) <= set(tried(ruleset, event))
    assert ruleset.runtime_errors == {}
