"""Rollup windows and the for / keep_firing_for state machine."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import hysteresis
from detectors.rollup import Accumulator, empty_value, percentile, window_start

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60)
@given(t=st.floats(min_value=0, max_value=4e9), interval=st.sampled_from([60.0, 300.0, 3600.0]))
def test_every_time_falls_in_exactly_one_aligned_window(t, interval):
    start = window_start(t, interval)
    assert start <= t < start + interval
    assert start % interval == 0


@settings(max_examples=60)
@given(xs=st.lists(finite, min_size=1, max_size=200), q=st.sampled_from([0.5, 0.95, 0.99]))
def test_percentile_matches_numpy(xs, q):
    assert percentile(xs, q) == approx(np.percentile(xs, q * 100))


def approx(v):
    return pytest.approx(v, rel=1e-9, abs=1e-6)


@settings(max_examples=60)
@given(xs=st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=100))
def test_aggregations_of_a_window(xs):
    rng = random.Random(0)
    accs = {agg: Accumulator() for agg in ("count", "sum", "avg", "min", "max", "p95")}
    for x in xs:
        for agg, acc in accs.items():
            acc.add(agg, x, rng)
    assert accs["count"].value("count") == len(xs)
    assert accs["sum"].value("sum") == approx(sum(xs))
    assert accs["avg"].value("avg") == approx(sum(xs) / len(xs))
    assert accs["min"].value("min") == min(xs)
    assert accs["max"].value("max") == max(xs)
    assert accs["p95"].value("p95") == approx(np.percentile(xs, 95))


def test_rate_distinct_and_min_count():
    rng = random.Random(0)
    rate, distinct = Accumulator(), Accumulator()
    for truth in (1.0, 0.0, 0.0, 1.0):
        rate.add("rate", truth, rng)
    for region in ("us-east-1", "eu-west-1", "us-east-1"):
        distinct.add("distinct", region, rng)
    assert rate.value("rate") == 0.5
    assert rate.value("rate", min_count=5) is None
    assert distinct.value("distinct") == 2.0


def test_an_empty_window_is_zero_for_counts_and_undefined_for_averages():
    assert empty_value("count") == 0.0
    assert empty_value("sum") == 0.0
    assert empty_value("avg") is None
    assert empty_value("p95") is None


def run_hysteresis(aboves, for_, keep):
    state, emitted = None, []
    for above in aboves:
        state, emit = hysteresis.step(state, above, for_, keep)
        emitted.append(emit)
    return emitted


def test_opens_after_for_windows_and_resolves_after_keep_firing_for():
    emitted = run_hysteresis([True, True, True, False, False, True, False, False, False], 2, 3)
    assert emitted == [None, True, True, True, True, True, True, True, False]


def test_a_single_blip_does_not_open_when_for_is_two():
    assert run_hysteresis([True, False, True, False], 2, 1) == [None, None, None, None]


@settings(max_examples=100)
@given(
    aboves=st.lists(st.booleans(), max_size=80),
    for_=st.integers(min_value=1, max_value=4),
    keep=st.integers(min_value=1, max_value=4),
)
def test_alerts_alternate_open_then_exactly_one_resolve(aboves, for_, keep):
    emitted = run_hysteresis(aboves, for_, keep)
    firing = False
    run_above = 0
    for above, emit in zip(aboves, emitted, strict=True):
        run_above = run_above + 1 if above else 0
        if emit is False:
            assert firing, "a resolve only ever follows firing"
            firing = False
        elif emit is True:
            if not firing:
                assert run_above >= for_, "opens only after `for` windows above"
            firing = True
        else:
            assert not firing or emit is not None, "while firing, every window emits"
    # once firing, it takes `keep` windows below to resolve
    below = 0
    firing = False
    for above, emit in zip(aboves, emitted, strict=True):
        if emit is True:
            firing = True
        below = 0 if above else below + 1
        if firing and emit is False:
            assert below == keep
            firing = False
