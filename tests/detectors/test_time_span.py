"""The bisected span of a time-ordered window list is exactly what a scan of it picks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from detectors import time_span

times = st.one_of(
    st.integers(-5, 40).map(lambda k: k * 300.0),  # aligned windows, many equal times
    st.floats(-1e6, 1e6, allow_nan=False),
)


@given(
    st.lists(times, max_size=60),
    times,
    st.one_of(st.floats(-600.0, 1e4, allow_nan=False), st.just(0.0), st.just(2550.0)),
)
def test_split_is_the_scan(starts: list[float], t: float, horizon: float) -> None:
    windows = [(s, i) for i, s in enumerate(sorted(starts))]
    kept = [w for w in windows if 0.0 < t - w[0] <= horizon]
    rest = [w for w in windows if not 0.0 < t - w[0] <= horizon]
    assert time_span.split(windows, t, horizon) == (kept, rest)
    assert time_span.within(windows, t, horizon) == kept


@given(st.lists(times, max_size=40))
def test_remember_keeps_time_order_and_arrival_among_equals(starts: list[float]) -> None:
    windows: list[tuple[float, int]] = []
    for i, s in enumerate(starts):
        time_span.remember(windows, (s, i))
    assert windows == sorted(windows)  # equal times stay in the order they came
    assert sorted(w[1] for w in windows) == list(range(len(starts)))
