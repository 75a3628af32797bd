"""The compiled matchers agree with a plain interpretation of pySigma's parsed condition."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from rules.compiler import compile_condition
from rules.interpreter import interpret

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
