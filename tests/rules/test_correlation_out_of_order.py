"""Live inputs that arrive behind newer ones still count in windows that are open.

The property: whatever the arrival order, as long as no input comes after its windows closed
(more than `timespan` behind the watermark), a window ends holding exactly what it would hold had
the inputs come in event-time order.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.correlation import BUCKETS_PER_WINDOW, CorrelationSpec, CorrelationState
from rules.model import CorrelationInput

TIMESPAN = 600.0
WIDTH = TIMESPAN / BUCKETS_PER_WINDOW


def spec(kind: str, rules: tuple[str, ...] = ("a",), **extra) -> CorrelationSpec:
    return CorrelationSpec(
        rule_id="corr",
        title="corr",
        severity="high",
        type=kind,
        rules=rules,
        group_by=("user",),
        timespan=TIMESPAN,
        timespan_text="10m",
        conditions=(("gte", 10**9),),  # never fires: these tests look at the windows
        **extra,
    )


def feed(kind: str, inputs: list[tuple[float, str, object]], **extra) -> CorrelationState:
    state = CorrelationState(spec(kind, **extra))
    for t, rule, value in inputs:
        state.update(CorrelationInput("corr", t, ("u",), rule, value))
    return state


def arrival_orders(draw_times):
    """Inputs in event-time order, and an arrival order in which some arrive late, but never
    more than the window (less one bucket) behind the newest input seen."""

    @st.composite
    def build(draw):
        times = sorted(draw(draw_times))
        inputs = [(t, draw(st.sampled_from("abc")), draw(st.integers(0, 9))) for t in times]
        delays = draw(st.lists(st.floats(0, TIMESPAN - 2 * WIDTH), min_size=len(inputs)))
        # each input arrives when the newest time seen reaches its time + its delay
        arrival = sorted(range(len(inputs)), key=lambda i: (times[i] + delays[i], i))
        return inputs, [inputs[i] for i in arrival]

    return build()


grid_times = st.lists(st.integers(0, 4000).map(lambda k: k * WIDTH), max_size=60, unique=True)


def window(state: CorrelationState):
    (w,) = state.groups.values()
    return w


@settings(max_examples=200, deadline=None)
@given(arrival_orders(grid_times))
def test_counts_and_sums_end_as_in_time_order(case):
    in_order, arrived = case
    if not in_order:
        return
    for kind in ("event_count", "value_sum"):
        a = window(feed(kind, in_order, value_fields=("v",)))
        b = window(feed(kind, arrived, value_fields=("v",)))
        assert (b.count, b.total) == (a.count, a.total)
        assert [bucket[0] for bucket in b.buckets] == sorted(bucket[0] for bucket in b.buckets)


@settings(max_examples=200, deadline=None)
@given(arrival_orders(grid_times))
def test_distinct_values_end_as_in_time_order(case):
    in_order, arrived = case
    if not in_order:
        return
    values = [(t, r, f"v{v}") for t, r, v in in_order]
    late = [(t, r, f"v{v}") for t, r, v in arrived]
    a, b = window(feed("value_count", values)), window(feed("value_count", late))
    assert b.seen == a.seen and list(b.seen.values()) == sorted(b.seen.values())


@settings(max_examples=200, deadline=None)
@given(arrival_orders(grid_times))
def test_percentile_samples_end_as_in_time_order(case):
    in_order, arrived = case
    if not in_order:
        return
    a = window(feed("value_percentile", in_order, percentile=95.0))
    b = window(feed("value_percentile", arrived, percentile=95.0))
    assert list(b.values) == list(a.values)


@settings(max_examples=300, deadline=None)
@given(arrival_orders(st.lists(st.integers(0, 900).map(float), max_size=25, unique=True)))
def test_ordered_chains_end_as_in_time_order(case):
    in_order, arrived = case
    if not in_order:
        return
    kind, rules = "temporal_ordered", ("a", "b", "c")
    a = window(feed(kind, in_order, rules=rules))
    b = window(feed(kind, arrived, rules=rules))
    assert b.chain == a.chain and b.seen == a.seen


def test_an_input_behind_every_open_window_is_late_and_left_out():
    state = CorrelationState(spec("event_count"))
    state.update(CorrelationInput("corr", 1000.0, ("u",), "a", None))
    state.advance(1500.0)  # windows ending after 1500 are still to come: (900, ...] is open
    state.update(CorrelationInput("corr", 950.0, ("u",), "a", None))
    assert state.late == 0 and window(state).count == 2
    state.update(CorrelationInput("corr", 900.0, ("u",), "a", None))
    assert state.late == 1 and window(state).count == 2


def test_a_late_input_that_completes_a_window_fires_for_the_newest_input():
    state = CorrelationState(
        CorrelationSpec(**{**spec("event_count").__dict__, "conditions": (("gte", 2),)})
    )
    assert state.update(CorrelationInput("corr", 500.0, ("u",), "a", None)) == []
    (hit,) = state.update(CorrelationInput("corr", 450.0, ("u",), "a", None))
    assert hit.time == 500.0 and hit.evidence["events"] == 2
    assert math.isfinite(hit.time)
