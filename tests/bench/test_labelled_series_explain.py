"""Where a detector loses points on one series, worked out by hand from the benchmark's rules."""

from __future__ import annotations

import pytest

from bench.labelled_series import explain, loudest_votes
from bench.window_scoring import MAX_TP, Series, scaled_sigmoid
from detectors.csvseries import SeriesRow


def test_a_caught_window_a_missed_one_and_a_false_alarm_are_each_accounted_for():
    # 100 rows: rows 0-14 are the probationary period; windows of ten rows each
    scores = [0.0] * 100
    scores[5] = 1.0  # in the probationary period: never counted
    scores[45] = 0.9  # half way into the first window
    scores[62] = 0.3  # below the threshold: the second window is missed
    scores[95] = 0.7  # far after every window: a false alarm at full cost
    votes = ["likelihood"] * 100
    votes[45], votes[62], votes[95] = "gaussian", "level_shift", "gaussian"
    lines = explain(Series("s.csv", scores, [(40, 49), (60, 69)]), votes, 0.5)
    earned = scaled_sigmoid(-0.5) / MAX_TP  # the detection is five rows before the end
    assert earned == pytest.approx(0.8598, abs=1e-4)
    assert lines == [
        f"window 0 rows 40-49: first at 45 (50% in), earns {earned:.3f}, by gaussian",
        "window 1 rows 60-69: missed, costs 1 (largest 0.3 at 62, by level_shift)",
        "false alarms 1, cost -0.11: 1 by gaussian",
    ]


def test_the_ensembles_votes_name_what_raised_each_row_and_others_have_none():
    values = [10.0 + (i * 7919 % 13) / 13 for i in range(400)] + [1000.0]  # then a spike
    points = [SeriesRow(i + 2, str(i), 300.0 * i, v, repr(v)) for i, v in enumerate(values)]
    votes = loudest_votes("ensemble", {}, points)
    assert votes is not None and len(votes) == len(points)
    assert votes[:150] == ["likelihood"] * 150  # before min_points only the likelihood speaks
    assert votes[-1] in {"likelihood", "gaussian"}
    assert loudest_votes("ewma", {}, points) is None
