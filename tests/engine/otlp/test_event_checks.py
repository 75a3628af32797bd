"""The range checks at decode, as properties: an event is refused exactly when one of its
values is out of range, and a refusal never raises, whatever the size of the numbers."""

from __future__ import annotations

import math

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.otlp.aliases import AliasTable
from engine.otlp.event_checks import EARLIEST, INT64_MAX, INT64_MIN, TimeBounds, event_problem
from engine.otlp.line_decoder import decode_history_line

ALIASES = AliasTable()
BOUNDS = TimeBounds()
NOW = 1_764_316_800.0  # 2025-11-28T08:00:00Z, the replaying machine's clock
LATEST = NOW + BOUNDS.max_future
NS = 10**9

ints = st.one_of(
    st.integers(INT64_MIN, INT64_MAX),
    st.integers(-(10**400), 10**400),
    st.sampled_from([INT64_MAX, INT64_MAX + 1, INT64_MIN, INT64_MIN - 1, 2**64 - 1]),
)
doubles = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: {"doubleValue": x}),
    st.sampled_from(["NaN", "Infinity", "-Infinity"]).map(lambda x: {"doubleValue": x}),
)
end_ns = st.one_of(
    st.integers(int(EARLIEST) * NS, int(LATEST) * NS),
    st.integers(0, 10**500),
    st.sampled_from([0, int(EARLIEST) * NS - 1, int(LATEST) * NS + 1, 2**64 - 1]),
)


def _bad_int(v: int) -> bool:
    return not INT64_MIN <= v <= INT64_MAX


def _bad_double(v: object) -> bool:
    return isinstance(v, str) or not math.isfinite(v)


@settings(max_examples=300, deadline=None)
@given(
    int_attrs=st.dictionaries(st.sampled_from(["tokens_in", "exit_code", "x.n"]), ints),
    double_attrs=st.dictionaries(st.sampled_from(["cost_estimate", "latency_ms", "x.f"]), doubles),
    end=end_ns,
    as_number=st.booleans(),
)
def test_a_span_is_refused_exactly_when_a_value_is_out_of_range(
    int_attrs, double_attrs, end, as_number
):
    attrs = [
        {"key": k, "value": {"intValue": v if as_number and not _bad_int(v) else str(v)}}
        for k, v in int_attrs.items()
    ]
    attrs += [{"key": k, "value": v} for k, v in double_attrs.items()]
    span = {"name": "claude.invoke", "endTimeUnixNano": str(end), "attributes": attrs}
    line = orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})

    events, refused = decode_history_line(line, ALIASES, BOUNDS, NOW)

    t = end / NS if end < 10**300 else math.inf
    bad = (
        not EARLIEST <= t <= LATEST
        or any(_bad_int(v) for v in int_attrs.values())
        or any(_bad_double(v["doubleValue"]) for v in double_attrs.values())
    )
    assert (len(refused), len(events)) == ((1, 0) if bad else (0, 1))
    if refused:
        assert refused[0].startswith("span 'claude.invoke': ")


@given(
    value=st.one_of(
        st.integers(-(10**5000), 10**5000),
        st.floats(),
        st.lists(st.one_of(st.integers(-(2**70), 2**70), st.floats()), max_size=4),
        st.text(max_size=5),
        st.none(),
        st.booleans(),
    ),
    t=st.one_of(st.floats(), st.integers(-(2**70), 2**70)),
)
def test_the_check_answers_for_any_value_without_raising(value, t):
    problem = event_problem({"time": t, "kind": "log", "name": "x", "v": value}, BOUNDS, NOW)
    assert problem is None or problem.startswith("log record 'x': ")
