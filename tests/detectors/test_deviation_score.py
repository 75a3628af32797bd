"""The map from a deviation to a score that every z-based detector shares: 0.5 at the alert
point, and a larger deviation always scoring higher, however far out, in the six decimals
`spanwatch score` writes."""

from __future__ import annotations

import doctest
import math

from hypothesis import given
from hypothesis import strategies as st

import detectors.scoring
from detectors.cli import SCORE_DECIMALS
from detectors.scoring import deviation_score

Z_HALF = st.floats(min_value=0.5, max_value=20.0)


def test_the_examples_in_the_docstrings_hold():
    result = doctest.testmod(detectors.scoring)
    assert result.attempted > 0 and result.failed == 0


@given(Z_HALF)
def test_the_alert_point_scores_one_half_and_twice_it_fifteen_sixteenths(z_half):
    assert math.isclose(deviation_score(z_half, z_half), 0.5)
    assert math.isclose(deviation_score(2.0 * z_half, z_half), 1.0 - 2.0**-4)


@given(Z_HALF, st.floats(min_value=1e-3, max_value=1e4), st.floats(min_value=1.01, max_value=10))
def test_a_larger_deviation_scores_higher_and_never_reaches_one(z_half, z, factor):
    low, high = deviation_score(z, z_half), deviation_score(z * factor, z_half)
    assert 0.0 < low < high < 1.0


def test_deviations_far_beyond_the_alert_point_stay_apart_in_the_written_decimals():
    """Up to a hundred times the alert point, a deviation a quarter larger scores higher in
    the decimals written; the normal tail alone tied everything from 4.6 times on."""
    r = 1.0
    while r < 100.0:
        a = round(deviation_score(r, 1.0), SCORE_DECIMALS)
        b = round(deviation_score(1.25 * r, 1.0), SCORE_DECIMALS)
        assert b > a, r
        r *= 1.1
    assert deviation_score(math.inf, 1.0) == 1.0
    assert deviation_score(0.0, 1.0) == deviation_score(-3.0, 1.0) == 0.0


def test_below_three_alert_points_the_score_is_the_normal_tail_map():
    for r in (0.1, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0):
        assert math.isclose(deviation_score(r, 1.0), 1.0 - 2.0 ** -(r * r))
