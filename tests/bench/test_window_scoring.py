"""The benchmark scorer, pinned to cases worked out by hand from the benchmark's rules."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.window_scoring import (
    MAX_TP,
    PROFILES,
    Series,
    best_threshold,
    probation_rows,
    scaled_sigmoid,
    score_corpus,
    sweep_rows,
    window_rows,
)

STANDARD = PROFILES["standard"]


@pytest.mark.parametrize(
    ("position", "value"),
    [(-1.0, 0.986614), (-0.5, 0.848284), (0.0, 0.0), (0.5, -0.848284), (1.0, -0.986614)],
)
def test_scaled_sigmoid_values(position, value):
    assert scaled_sigmoid(position) == pytest.approx(value, abs=1e-6)


def test_scaled_sigmoid_is_minus_one_three_widths_after_a_window():
    assert scaled_sigmoid(3.0) == -1.0 and scaled_sigmoid(2.99) > -1.0


def test_probation_is_fifteen_percent_capped_at_750_rows():
    assert probation_rows(100) == 15
    assert probation_rows(4032) == 604
    assert probation_rows(22695) == 750


def one_series(detections: dict[int, float], n=100, window=(40, 49)):
    scores = [0.0] * n
    for i, s in detections.items():
        scores[i] = s
    return Series("s", scores, [window])


def worth(series: Series, row: int, profile=STANDARD) -> float:
    (r,) = [
        r
        for i, r in enumerate(sweep_rows("s", series.scores, series.windows, profile), start=15)
        if i == row
    ]
    return r.worth


def test_a_detection_at_the_start_of_a_window_earns_the_full_true_positive():
    s = one_series({})
    assert worth(s, 40) == pytest.approx(1.0)
    # half-way in: sigma(-0.5) / sigma(-1)
    assert worth(s, 45) == pytest.approx(0.848284 / 0.986614, abs=1e-6)
    # the last row of the window: -(49 - 49 + 1) / 10 = -0.1
    assert worth(s, 49) == pytest.approx(scaled_sigmoid(-0.1) / MAX_TP)


def test_a_detection_after_a_window_costs_by_its_distance_from_it():
    s = one_series({})
    # nine rows after the end of a 10-row window: |49 - 58| / (10 - 1) = 1
    assert worth(s, 58) == pytest.approx(-0.986614 * 0.11, abs=1e-6)
    assert worth(s, 50) == pytest.approx(scaled_sigmoid(1 / 9) * 0.11)
    # before any window: the whole false-positive weight
    assert worth(s, 20) == pytest.approx(-0.11)
    assert worth(s, 20, PROFILES["reward_low_FP"]) == pytest.approx(-0.22)


def test_rows_in_the_probationary_period_are_not_scored():
    s = one_series({})
    rows = sweep_rows("s", s.scores, s.windows, STANDARD)
    assert len(rows) == 85


def test_only_the_first_detection_in_a_window_counts_and_the_threshold_is_searched():
    # detections: row 10 (probation, ignored), 45 and 47 (in the window), 58 (after it)
    s = one_series({10: 0.95, 45: 0.9, 47: 0.9, 58: 0.8})
    result = score_corpus([s], "standard")
    in_window = 0.848284 / 0.986614
    assert result.threshold == 0.9
    assert result.raw == pytest.approx(in_window, abs=1e-6)
    assert result.caught == 1 and result.false_alarms == 0
    assert result.null == -1.0 and result.perfect == 1.0
    assert result.score == pytest.approx(100 * (in_window + 1) / 2, abs=1e-4)


def test_the_null_and_perfect_detectors_bound_the_normalised_score():
    s = one_series({})
    assert score_corpus([s], "standard").score == 0.0
    perfect = one_series({40: 1.0})
    assert score_corpus([perfect], "standard").score == pytest.approx(100.0)
    assert score_corpus([perfect], "reward_low_FN").null == -2.0


def test_one_threshold_serves_every_series():
    # a: its window caught at its start at 0.7; b: a false alarm at 0.9 and its window at 0.6
    a = Series("a", [0.0] * 40 + [0.7] + [0.0] * 59, [(40, 49)])
    b_scores = [0.0] * 100
    b_scores[20], b_scores[40] = 0.9, 0.6
    b = Series("b", b_scores, [(40, 49)])
    result = score_corpus([a, b], "standard")
    # 0.6 catches both windows at their start (2) for one false alarm before them (-0.11)
    assert result.threshold == 0.6
    assert result.raw == pytest.approx(2 - 0.11)
    assert result.score == pytest.approx(100 * (2 - 0.11 + 2) / 4)


def test_windows_are_mapped_to_rows_by_time():
    times = [float(t) for t in range(0, 100, 10)]
    assert window_rows(times, [(15.0, 45.0), (200.0, 300.0)]) == [(2, 4)]
    assert window_rows(times, [(20.0, 40.0)]) == [(2, 4)]


def brute_force_total(series, threshold, profile):
    """The total at one threshold, straight from the rules (no sweep)."""
    total = 0.0
    for s in series:
        rows = sweep_rows(s.name, s.scores, s.windows, profile)
        windows = {r.window for r in rows if r.window is not None}
        for w in windows:
            hits = [r.worth for r in rows if r.window == w and r.score >= threshold]
            total += max(hits) if hits else -profile.fn
        total += sum(r.worth for r in rows if r.window is None and r.score >= threshold)
    return total


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.sampled_from([0.0, 0.2, 0.5, 0.7, 1.0]), min_size=30, max_size=80),
    starts=st.lists(st.integers(5, 70), max_size=3, unique=True),
    profile=st.sampled_from(sorted(PROFILES)),
)
def test_the_sweep_agrees_with_scoring_each_threshold_directly(scores, starts, profile):
    n = len(scores)
    windows, taken = [], set()
    for a in sorted(starts):
        b = min(n - 1, a + 6)
        if a < n and not taken & set(range(a - 1, b + 2)):
            windows.append((a, b))
            taken |= set(range(a, b + 1))
    series = [Series("x", scores, windows)]
    p = PROFILES[profile]
    rows = [r for s in series for r in sweep_rows(s.name, s.scores, s.windows, p)]
    best = best_threshold(rows, p)
    candidates = [math.inf, *sorted(set(scores), reverse=True)]
    direct = [brute_force_total(series, t, p) for t in candidates]
    assert best.total == pytest.approx(max(direct))
    assert best.threshold == candidates[direct.index(max(direct))] or math.isclose(
        brute_force_total(series, best.threshold, p), max(direct)
    )
