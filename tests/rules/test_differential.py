"""The compiled matchers agree with a plain interpretation of pySigma's parsed condition."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from bench.generated_rules import rule_variants
from rules.compiler import compile_condition
from rules.config import RulesConfig
from rules.ruleset import RuleSet

from .interpreter import interpret

FIELDS = ["a", "b", "c"]
LISTS = {"L": ["a", "Ab", "b*"]}
REGEXES = ["a", "^a", "a$", "A+", "a|b", "b.?a", "(?:ab)*b", "^$"]

short_text = st.text(alphabet="aAb1", max_size=3)
pattern_text = st.text(alphabet="aAb1*?", max_size=3)
numbers = st.one_of(st.integers(-2, 3), st.sampled_from([0.5, 1.0, -1.5]))


@st.composite
def detection_item(draw):
    """One `field|modifiers: value` pair (or a keyword list) of a random kind."""
    field = draw(st.sampled_from(FIELDS))
    kind = draw(
        st.sampled_from(["str", "re", "num", "bool", "null", "exists", "ref", "expand", "kw"])
    )
    if kind == "str":
        mods = draw(st.sampled_from(["", "|contains", "|startswith", "|endswith"]))
        mods += draw(st.sampled_from(["", "|cased"]))
        values = draw(st.lists(pattern_text, min_size=1, max_size=3))
        if len(values) > 1 and draw(st.booleans()):
            mods += "|all"
        return field + mods, values
    if kind == "re":
        return field + "|re" + draw(st.sampled_from(["", "|i"])), draw(st.sampled_from(REGEXES))
    if kind == "num":
        mod = draw(st.sampled_from(["", "|gt", "|gte", "|lt", "|lte"]))
        return field + mod, draw(numbers)
    if kind == "bool":
        return field, draw(st.booleans())
    if kind == "null":
        return field, None
    if kind == "exists":
        return field + "|exists", draw(st.booleans())
    if kind == "ref":
        mod = draw(st.sampled_from(["", "|contains", "|startswith", "|endswith"]))
        return field + "|fieldref" + mod, draw(st.sampled_from(FIELDS))
    if kind == "expand":
        return field + "|expand", draw(st.sampled_from(["%L%", "x%L%*", "*%L%"]))
    return None, draw(st.lists(pattern_text, min_size=1, max_size=2))


@st.composite
def sigma_rule(draw):
    names = [f"sel{i}" for i in range(draw(st.integers(1, 3)))]
    detection: dict = {}
    for name in names:
        items = draw(st.lists(detection_item(), min_size=1, max_size=2))
        keyword = [v for k, v in items if k is None]
        if keyword:
            detection[name] = keyword[0]
        else:
            detection[name] = {k: v for k, v in items}

    def expr(depth):
        atoms = [*names, "1 of sel*", "all of sel*"]
        if depth == 0:
            return st.sampled_from(atoms)
        return st.one_of(
            st.sampled_from(atoms),
            st.builds(lambda a: f"not {a}", expr(depth - 1)),
            st.builds(lambda a, b: f"({a} and {b})", expr(depth - 1), expr(depth - 1)),
            st.builds(lambda a, b: f"({a} or {b})", expr(depth - 1), expr(depth - 1)),
        )

    detection["condition"] = draw(st.one_of(st.sampled_from(names), expr(2)))
    return {"title": "random", "logsource": {"product": "test"}, "detection": detection}


field_values = st.one_of(
    short_text,
    pattern_text,
    numbers,
    st.booleans(),
    st.none(),
    st.sampled_from(["true", "False", "1", "0.5", "x", "xa", "bb*", "", float("nan")]),
)
events = st.dictionaries(st.sampled_from(FIELDS), field_values, min_size=2, max_size=3)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=sigma_rule(), evs=st.lists(events, min_size=1, max_size=6))
def test_compiled_matcher_agrees_with_the_reference_interpreter(rule, evs):
    try:
        parsed = SigmaRule.from_dict(rule)
        tree = parsed.detection.parsed_condition[0].parsed
    except SigmaError:
        assume(False)
    matcher = compile_condition(tree, LISTS)
    for event in evs:
        expected = interpret(tree, event, LISTS)
        event_label = "matched" if expected else "did not match"
        hypothesis_event(event_label)
        assert matcher(event) == expected, (rule, event)


# --- many rules: the rule index changes no outcome ----------------------------------------------

VOCABULARY = {
    "team": ["core", "Data", "ml-ops"],
    "user": ["ana", "bo", "Chen", "d.e"],
    "command": ["git push", "rm -rf /", "ls", "curl x | sh"],
    "exit_code": ["0", "1", "127"],
    "region": ["us-east-1", "eu-west-1"],
    "status": ["ok", "error"],
    "tool_name": ["Bash", "Edit"],
}
SPAN_NAMES = ["shell.run", "claude.invoke", "Claude_Code.Tool_Result", "assertion"]
vocabulary_text = st.sampled_from(sorted({v for vs in VOCABULARY.values() for v in vs}))
odd_values = st.sampled_from([None, True, False, 0, 1, 127, 1.0, -0.0, float("inf"), "", ["ls"]])


@st.composite
def spelled(draw, texts):
    text = draw(texts)
    return draw(st.sampled_from([text, text.upper(), text.title(), text + "-1", " " + text]))


@st.composite
def vocabulary_event(draw):
    """An event over the rules' vocabulary: its values respelled, unseen, numeric or missing."""
    event: dict = {}
    for field, values in VOCABULARY.items():
        roll = draw(st.integers(0, 9))
        if roll < 5:
            event[field] = draw(spelled(st.sampled_from(values)))
        elif roll < 7:
            event[field] = draw(st.one_of(odd_values, spelled(vocabulary_text)))
    if draw(st.integers(0, 9)) < 8:
        event["name"] = draw(st.one_of(spelled(st.sampled_from(SPAN_NAMES)), odd_values))
    return event


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n_rules=st.sampled_from([40, 150, 300]),
    unseen=st.sampled_from([0.0, 0.3, 0.8]),
    evs=st.lists(vocabulary_event(), min_size=20, max_size=60),
)
def test_many_rules_hit_exactly_what_the_interpreter_matches(seed, n_rules, unseen, evs):
    """Generated variants (equality, lists, wildcards, `re`, `contains`, `not`, OR of ANDs,
    with and without a `name` test) next to the default pack: each event's hits, in rule order,
    are the rules the reference interpreter matches, and every match was among the candidates."""
    _hits_exactly_what_the_interpreter_matches(seed, n_rules, unseen, evs)


@settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    unseen=st.sampled_from([0.0, 0.5, 0.9]),
    evs=st.lists(vocabulary_event(), min_size=40, max_size=120),
)
def test_a_thousand_rules_hit_exactly_what_the_interpreter_matches(seed, unseen, evs):
    """The scale the rule index is for: the default pack and a thousand generated variants,
    many of them filed under two tests (a value and a substring, prefix or pattern)."""
    _hits_exactly_what_the_interpreter_matches(seed, 1000, unseen, evs)


def _hits_exactly_what_the_interpreter_matches(
    seed: int, n_rules: int, unseen: float, evs: list[dict]
) -> None:
    docs = rule_variants(n_rules, VOCABULARY, SPAN_NAMES, seed=seed, unseen=unseen)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "variants.yml"
        path.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
        config = RulesConfig()
        ruleset = RuleSet.load([*config.rule_paths(), path], config)
    lists = ruleset.config.lists
    indexed = sum(len(e.fields) + len(e.presence) for e in ruleset.index._by_name.values())
    hypothesis_event(f"fields indexed: {'some' if indexed else 'none'}")
    paired = sum(len(e.seconds) for e in ruleset.index._by_name.values())
    hypothesis_event(f"rules filed under two tests: {'some' if paired else 'none'}")
    hit_count = 0
    for event in evs:
        expected = [
            r.rule_id for r in ruleset.detections if interpret(r.condition_tree, event, lists)
        ]
        hits, inputs = ruleset.evaluate(event)
        got = [h.rule_id for h in hits]
        by_id = {r.rule_id: r for r in ruleset.detections}
        order = {r.rule_id: i for i, r in enumerate(ruleset.detections)}
        assert got == [rid for rid in expected if by_id[rid].generates], event
        fed = [(i.correlation_id, i.rule_id) for i in inputs]
        assert set(fed) <= {(f.correlation_id, rid) for rid in expected for f in by_id[rid].feeds}
        assert [rid for _, rid in fed] == sorted(
            (rid for _, rid in fed), key=lambda rid: order[rid]
        )
        assert set(expected) <= {r.rule_id for r, _ in ruleset.index.candidates(event)}, event
        hit_count += len(got)
    hypothesis_event(f"hits: {'some' if hit_count else 'none'}")
    assert ruleset.runtime_errors == {}
