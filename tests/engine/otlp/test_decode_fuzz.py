"""Any history line decodes or is a bad line with a reason: never another exception, and
nothing it lets through carries a value that would poison state."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.otlp.aliases import AliasTable
from engine.otlp.event_checks import TimeBounds, event_problem
from engine.otlp.line_decoder import DecodeError, decode_history_line
from tests.engine.otlp_fuzz import anything, broken, logs_json, to_json, trace_json

ALIASES = AliasTable()
BOUNDS = TimeBounds()
NOW = 1_764_316_800.0  # 2025-11-28T08:00:00Z


def decoded_or_refused(line: bytes) -> None:
    try:
        events, refused = decode_history_line(line, ALIASES, BOUNDS, NOW)
    except DecodeError as exc:
        assert str(exc)
        return
    assert all(event_problem(e, BOUNDS, NOW) is None for e in events)
    assert all(isinstance(reason, str) and reason for reason in refused)


@settings(max_examples=150, deadline=None)
@given(request=st.one_of(trace_json, logs_json, broken(st.one_of(trace_json, logs_json))))
def test_otlp_json_lines_decode_or_are_bad_lines(request):
    decoded_or_refused(to_json(request))


@settings(max_examples=100, deadline=None)
@given(
    obj=st.one_of(
        st.dictionaries(st.sampled_from(["time", "name", "user", "cost"]), anything), anything
    )
)
def test_flat_lines_decode_or_are_bad_lines(obj):
    decoded_or_refused(to_json(obj))


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=300))
def test_random_bytes_are_bad_lines(raw):
    decoded_or_refused(raw)
