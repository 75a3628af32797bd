"""The burst bound never skips a run of windows that the exact ratios would alarm on."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.binomial_evidence import BurstRatio
from detectors.burst_bound import burst_below
from detectors.ewma import EwmaChart, EwmaParams


def _exact_best(
    ratio: BurstRatio, k: int, n: int, windows: list[tuple[float, int, int, bool]]
) -> float:
    best = ratio(k, n)
    for _, hits, events, _ in reversed(windows):
        k, n = k + hits, n + events
        best = max(best, ratio(k, n))
    return best


@st.composite
def _counts(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(1, 400))
    return draw(st.integers(0, n)), n


@settings(max_examples=400, deadline=None)
@given(
    point=_counts(),
    windows=st.lists(_counts(), max_size=30),
    hits=st.floats(0.0, 5000.0),
    extra=st.floats(0.0, 1e6),
    share=st.floats(0.05, 0.95),
    ordinary_part=st.floats(0.01, 0.99),
    limit=st.floats(-5.0, 40.0),
)
def test_a_skip_is_never_an_alarm(
    point: tuple[int, int],
    windows: list[tuple[int, int]],
    hits: float,
    extra: float,
    share: float,
    ordinary_part: float,
    limit: float,
) -> None:
    ordinary = share * ordinary_part
    spans = [(float(i), k, n, False) for i, (k, n) in enumerate(windows)]
    k, n = point
    if burst_below(share, ordinary, k, n, spans, limit):
        ratio = BurstRatio(hits, hits + extra, share, ordinary)
        assert _exact_best(ratio, k, n, spans) < limit


def test_the_bound_is_close_enough_to_skip_ordinary_windows() -> None:
    """Windows of calls going through (a failure now and then) are skipped: the bound is of use."""
    spans = [(60.0 * i, i % 3 == 0, 10, False) for i in range(8)]
    assert burst_below(0.5, 0.1, 0, 10, [(t, int(k), n, w) for t, k, n, w in spans], 6.0)
    burst = [(60.0 * i, 6, 8, True) for i in range(3)]
    assert not burst_below(0.5, 0.1, 6, 8, burst, 6.0)


def _chart() -> EwmaChart:
    params = EwmaParams(
        direction="up", noise="binomial", burst_nats=6.0, burst_share=0.5, ordinary_share=0.1,
        evidence=0.0, span=9, step=60.0, min_points=3, repeat=0,
    )  # fmt: skip
    return EwmaChart(params)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_counts(), min_size=1, max_size=6), min_size=1, max_size=40))
def test_a_pooled_chart_learns_as_without_the_bound(windows: list[list[tuple[int, int]]]) -> None:
    """A chart fed every key's point per window (a root) ends in the same state with the bound
    as when every run's exact ratio is taken (the bound turned off)."""
    import detectors.ewma as ewma

    def learn(chart: EwmaChart) -> tuple[object, ...]:
        for i, points in enumerate(windows):
            for k, n in points:
                chart.learn_one(k / n, 60.0 * i, n)
        return (chart.hits, chart.trials, chart.loc, chart.alarmed, tuple(chart.recent))

    with_bound = learn(_chart())
    original = ewma.burst_below
    ewma.burst_below = lambda *_args: False  # type: ignore[assignment]
    try:
        without = learn(_chart())
    finally:
        ewma.burst_below = original
    assert with_bound == without
