"""Detector series kept for a report: bounded, in time order, the alert's point inside."""

from __future__ import annotations

import doctest
import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

import detectors.recent
from detectors.recent import RecentPoints, baseline_of


def test_the_docstring_example_holds():
    assert doctest.testmod(detectors.recent).failed == 0


def test_the_baseline_is_what_the_model_calls_its_expectation():
    assert baseline_of({"value": 3.0, "expected": 1.5, "mean": 9.0}) == 1.5
    assert baseline_of({"value": 3.0, "mean": 2}) == 2.0
    assert baseline_of({"value": 3.0, "baseline": float("nan")}) is None
    assert baseline_of({"spent": 4.0}) is None


def test_it_survives_pickling_as_detector_state_does():
    r = RecentPoints(before=3, after=2)
    r.record("d", ("k",), 60.0, 1.0, 0.1, 0.5, None)
    r.alert("d", ("k",), 60.0)
    copy = pickle.loads(pickle.dumps(r))
    copy.record("d", ("k",), 120.0, {"a"}, 0.0, 0.5, None)  # a set: no value, still a point
    assert [p.value for p in copy.series()[0].points] == [1.0, None]


windows = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.floats(0, 100), st.booleans()),
    max_size=200,
)


@settings(max_examples=80, deadline=None)
@given(windows, st.integers(0, 5), st.integers(0, 5), st.integers(1, 3), st.integers(1, 4))
def test_series_are_bounded_and_hold_their_alerts(points, before, after, max_keys, max_alerts):
    r = RecentPoints(before=before, after=after, max_keys=max_keys, max_alerts=max_alerts)
    for n, (key, value, fires) in enumerate(points):
        end = 60.0 * (n + 1)
        r.record("d", (key,), end, value, 1.0 if fires else 0.0, 0.5, value / 2)
        if fires:
            r.alert("d", (key,), end)
    assert len(r.rings) <= max_keys
    series = r.series()
    assert len(series) <= max_alerts
    fired_total = sum(fires for _, _, fires in points)
    assert len(series) + r.dropped_alerts <= max(fired_total, 0) or not fired_total
    for s in series:
        ends = [p.end for p in s.points]
        assert ends == sorted(ends) and len(set(ends)) == len(ends)
        assert s.fired[0] in ends  # the window that fired is drawn
        assert len([e for e in ends if e < s.fired[0]]) <= before
        assert len([e for e in ends if e > s.fired[-1]]) <= after
