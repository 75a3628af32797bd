"""Closing a window visits only the keys that can make a point, in the order of all keys."""

from __future__ import annotations

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import DetectorsConfig, DetectorSet, Observation

MONDAY = 1793577600.0  # 2026-11-02T00:00:00Z
STEP = 300.0


def one(**spec) -> DetectorSet:
    spec.setdefault("id", "d")
    return DetectorSet.from_config(DetectorsConfig.model_validate({"detectors": [spec]}))


@settings(max_examples=80)
@given(
    seen=st.lists(
        st.tuples(st.sampled_from("abcdefgh"), st.integers(min_value=0, max_value=3)),
        max_size=60,
    ),
    max_keys=st.integers(min_value=1, max_value=8),
)
def test_keys_with_events_come_in_least_recently_seen_order_even_after_evictions(seen, max_keys):
    state = one(kind="ewma", aggregation="avg", field="x", max_keys=max_keys).new_state("d")
    for key, window in seen:
        state.update(Observation("d", MONDAY + window * STEP + 1, (key,), 1.0))
    for window in state.open.values():
        expected = [(k, m) for k, m in state.keys.items() if k in window]
        assert state._keys_in(window) == expected


def test_only_keys_with_events_are_points_when_an_empty_window_has_no_value():
    state = one(kind="ewma", aggregation="avg", field="x", group_by=["u"]).new_state("d")
    for i, user in enumerate("abcde"):
        state.update(Observation("d", MONDAY + i, (user,), 1.0))
    state.advance(MONDAY + STEP)
    state.update(Observation("d", MONDAY + STEP + 1, ("c",), 1.0))
    state.advance(MONDAY + 3 * STEP)
    assert state.stats["points"] == 5 + 1  # the third window had no events at all


def idle_run(direction: str) -> tuple[bytes, bytes, dict]:
    ds = one(kind="seasonal", group_by=["u"], params={"direction": direction})
    state = ds.new_state("d")
    for w in range(30):
        for k in range(3):
            state.update(Observation("d", MONDAY + w * STEP + k, ("busy",), None))
        if w < 20:
            state.update(Observation("d", MONDAY + w * STEP, ("idle",), None))
        state.advance(MONDAY + w * STEP)
        if w == 24:
            before = pickle.dumps(state.keys[("idle",)])
    return before, pickle.dumps(state.keys[("idle",)]), state.stats


def test_an_upward_counts_model_neither_scores_nor_learns_a_keys_idle_windows():
    before, after, stats = idle_run("up")
    assert before == after
    assert stats["points"] == 2 * 29, "an idle window is still a point of its key"
    before, after, stats = idle_run("both")
    assert before != after, "a two-sided model learns the empty windows"
    assert stats["points"] == 2 * 29


@settings(max_examples=80, deadline=None)
@given(
    seen=st.lists(
        st.tuples(st.sampled_from("abc"), st.integers(min_value=0, max_value=5)), max_size=30
    ),
    closes=st.lists(st.floats(min_value=-2.0, max_value=8.0), min_size=1, max_size=6),
)
def test_a_detector_with_no_window_to_close_is_left_as_it_was(seen, closes):
    """An epoch's close passes by a detector that `closes_by` says has nothing to close: its
    `advance` would have given no signal and changed nothing (the pickled state is equal)."""
    state = one(kind="ewma", aggregation="count", group_by=["u"]).new_state("d")
    for key, window in seen:
        state.update(Observation("d", MONDAY + window * STEP + 1, (key,), 1.0))
    for close in closes:
        watermark = MONDAY + close * STEP
        if state.closes_by(watermark):
            state.advance(watermark)
            continue
        before = pickle.dumps(state)
        assert state.advance(watermark) == []
        assert pickle.dumps(state) == before
