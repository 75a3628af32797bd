"""The decoder's shortcuts give what the plain way gives: an intValue read inline equals
`any_value`'s reading, and filling canonical keys from a remembered plan per attribute-name set
equals working the plan out for every event, over simulated organisations of several shapes
and over random attribute lists."""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.otlp.aliases import AliasTable, coerce
from engine.otlp.json_decoder import any_value, attributes, flatten
from engine.otlp.line_decoder import DecodeError, decode_line
from replay.simulator.shape import OrgShape
from replay.simulator.simulate import SimulationSpec, simulate


class PlainAliasTable(AliasTable):
    """Works out which canonical keys to fill for every event, as the table first did."""

    def fill(self, event: dict[str, Any], touched: Iterable[str] | None = None) -> dict[str, Any]:
        names_in = event if touched is None else touched
        wanted = {k for name in names_in if name in self.sources for k in self.sources[name]}
        for key, names in self.pairs:
            if key not in wanted:
                continue
            for name in names:
                value = event.get(name)
                coerced = None if value is None else coerce(key, value)
                if coerced is not None:
                    event[key] = coerced
                    break
        return event


def plain_attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Every attribute through `any_value`, nested kvlists as dotted keys."""
    out: dict[str, Any] = {}
    for kv in items:
        decoded = any_value(kv.get("value") or {})
        if isinstance(decoded, dict):
            flatten(decoded, out, f"{kv['key']}.")
        else:
            out[kv["key"]] = decoded
    return out


SHAPES = {
    "spans-seed-5": SimulationSpec(days=1, users=10, seed=5),
    "mixed-both-global-seed-17": SimulationSpec(
        days=1,
        users=9,
        seed=17,
        kinds="all",
        shape=OrgShape(spelling="mixed", export="both", zones="global", batching="session"),
    ),
    "logs-bursty-seed-41": SimulationSpec(
        days=1, users=8, seed=41, shape=OrgShape(export="logs", traffic="bursty")
    ),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_remembered_fill_plans_decode_like_plain_filling(tmp_path, name):
    path = tmp_path / "h.jsonl.gz"
    simulate(SHAPES[name], path)
    fast, plain = AliasTable({"team": ["org.unit"]}), PlainAliasTable({"team": ["org.unit"]})
    with gzip.open(path) as lines:
        for line in lines:
            assert decode_line(line, fast) == decode_line(line, plain)
    assert fast._plans  # the plans were used, not bypassed


int_spellings = st.one_of(
    st.integers(-(2**70), 2**70),
    st.integers(0, 10**30).map(str),
    st.sampled_from(["", " 7", "7 ", "+7", "-7", "0x1f", "1_000", "٣", "1.5", "²", "007"]),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
)
values = st.one_of(
    int_spellings.map(lambda v: {"intValue": v}),
    st.text(max_size=5).map(lambda v: {"stringValue": v}),
    st.floats(allow_nan=False).map(lambda v: {"doubleValue": v}),
    st.booleans().map(lambda v: {"boolValue": v}),
    st.fixed_dictionaries({"kvlistValue": st.just({"values": [{"key": "a", "value": {}}]})}),
)
kv_lists = st.lists(
    st.fixed_dictionaries(
        {"key": st.sampled_from(["tokens_in", "a", "b.c", "user"]), "value": values}
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(kv_lists)
def test_inline_attribute_reading_equals_any_value(items):
    try:
        expected: Any = plain_attributes(items)
    except ValueError as exc:
        expected = type(exc)
    got: dict[str, Any] = {}
    try:
        attributes(items, got)
    except ValueError as exc:
        assert expected is type(exc)
    else:
        assert got == expected


def test_a_line_with_an_integer_spelled_oddly_is_still_refused_with_its_value():
    line = (
        b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"s","endTimeUnixNano":"1",'
        b'"attributes":[{"key":"tokens_in","value":{"intValue":"12x"}}]}]}]}]}'
    )
    with pytest.raises(DecodeError, match="intValue '12x' is not an integer"):
        decode_line(line, AliasTable())
