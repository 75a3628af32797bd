"""The level shift vote: the mean of the last few standardised values in spreads of that mean,
silent until every averaged value is on the step, announced once."""

from __future__ import annotations

import doctest
import math
import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import detectors.level_shift
from detectors.level_shift import MARGIN, RATIO, LevelShift, noise_max


def test_the_examples_in_the_docstrings_hold():
    result = doctest.testmod(detectors.level_shift)
    assert result.attempted > 0 and result.failed == 0


def alternating(points=3, quiet=500, n=600):
    v = LevelShift(points=points, memory=1000, quiet=quiet)
    for i in range(n):
        v.learn((-1.0) ** i)
    return v


def test_a_step_scores_its_full_mean_on_its_last_averaged_point_and_counts_once():
    v = alternating()
    bar = noise_max(500, False)  # 3.09: nothing larger in the quiet period
    zs, counted = [], []
    for u in [5.0] * 6:
        zs.append(v.z(u, "both"))
        counted.append(v.counts(zs[-1], "both"))
        v.learn(u)
    assert zs[:2] == [0.0, 0.0]
    assert zs[2] == pytest.approx(5.0 * math.sqrt(3.0))  # the white spread 1/sqrt(3)
    assert counted == [False, False, True, False, False, False]
    assert v.bar("both") == pytest.approx(zs[2])  # the step's z holds the quiet period
    assert max(bar + MARGIN, RATIO * bar) < zs[2]


def test_one_large_value_among_ordinary_ones_is_no_shift():
    v = alternating()
    for u in (12.0, 1.0, -1.0):
        assert v.z(u, "both") == 0.0
        v.learn(u)


def test_a_step_the_single_point_test_announced_is_not_announced_again():
    v = alternating()
    v.learn(5.0, "both", announced=True)  # remembers 5 sqrt(3), the z of a lasting 5
    v.learn(5.0)
    assert v.z(5.0, "both") == pytest.approx(5.0 * math.sqrt(3.0))
    assert not v.counts(v.z(5.0, "both"), "both")


def test_with_a_direction_only_its_side_counts():
    up = alternating()
    down = alternating()
    for u in (-5.0, -5.0):
        up.learn(u, "up")
        down.learn(u, "down")
    assert up.z(-5.0, "up") == 0.0
    assert down.z(-5.0, "down") == pytest.approx(5.0 * math.sqrt(3.0))
    assert down.tail(-5.0, "down") == pytest.approx(0.5 * math.erfc(5.0 * math.sqrt(1.5)))


def test_the_spread_of_autocorrelated_noise_is_learned_on_each_side():
    """Long runs of equal values: means of three are the values themselves (spread 1, not 0.58);
    a metric whose upward runs are twice as far learns twice the spread above."""
    v = LevelShift(points=3, memory=1000, quiet=50)
    for i in range(6000):
        v.learn(2.0 if (i // 100) % 2 else -1.0)
    assert v.spread(1.0) == pytest.approx(2.0, rel=0.05)
    assert v.spread(-1.0) == pytest.approx(1.0, rel=0.05)


def test_nothing_is_said_before_the_quiet_period_has_filled_once():
    v = alternating(quiet=500, n=400)
    for u in (9.0, 9.0, 9.0):
        assert v.z(u, "both") == 0.0
        v.learn(u)


def test_the_noise_maximum_is_that_of_n_normal_draws():
    rng = random.Random(4)
    n = 500
    maxima = sorted(max(abs(rng.gauss(0, 1)) for _ in range(n)) for _ in range(400))
    # one in n draws passes it: (1 - 1/n)^n, about 1/e of the maxima of n draws, lie below
    below = sum(m < noise_max(n, False) for m in maxima) / len(maxima)
    assert 0.30 < below < 0.45


@settings(max_examples=40, deadline=None)
@given(
    us=st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=300),
    points=st.integers(1, 6),
    quiet=st.integers(0, 40),
    direction=st.sampled_from(["up", "down", "both"]),
)
def test_any_values_give_a_finite_z_a_probability_and_small_state_that_resumes(
    us, points, quiet, direction
):
    v = LevelShift(points=points, memory=100, quiet=quiet)
    for u in us:
        z = v.z(u, direction)
        assert 0.0 <= z < math.inf
        assert 0.0 < v.tail(u, direction) <= 1.0
        v.learn(u, direction)
    twin = pickle.loads(pickle.dumps(v))
    assert len(v.recent) <= max(0, points - 1)
    assert len(pickle.dumps(v)) < 1200
    for u in us[:20]:
        assert twin.z(u, direction) == v.z(u, direction)
        assert twin.bar(direction) == v.bar(direction)
        twin.learn(u, direction)
        v.learn(u, direction)
