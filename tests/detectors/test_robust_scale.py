"""The winsorised spread: its constant by hand and by integration, and the level shift vote's
spread of the mean, which one spike no longer inflates."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.level_shift import LevelShift
from detectors.robust_scale import CLIP, capped, variance, winsorised_second_moment


def test_the_second_moment_of_a_winsorised_normal_by_hand():
    # c = 1: P(|Z| < 1) - 2 phi(1) + P(|Z| > 1) = 0.682689 - 0.483941 + 0.317311
    assert winsorised_second_moment(1.0) == pytest.approx(0.516059, abs=1e-6)
    # c = 3: 0.997300 - 0.026591 + 9 * 0.0026998
    assert winsorised_second_moment(3.0) == pytest.approx(0.995007, abs=1e-6)
    assert winsorised_second_moment(40.0) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("c", [0.5, 1.0, 2.0, 3.0, 5.0])
def test_the_second_moment_matches_a_numerical_integral(c):
    z = np.linspace(-12.0, 12.0, 240_001)
    density = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    integrand = np.minimum(z * z, c * c) * density
    integral = float(np.sum((integrand[1:] + integrand[:-1]) * np.diff(z)) / 2.0)
    assert winsorised_second_moment(c) == pytest.approx(integral, abs=1e-7)


def test_a_square_is_capped_at_three_spreads_and_the_variance_undoes_the_clipping():
    assert capped(4.0, 1.0) == 4.0
    assert capped(100.0, 1.0) == 9.0
    assert capped(1e300, 4.0) == 36.0  # three spreads of 2
    assert variance(0.995007, 3.0) == pytest.approx(1.0, abs=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.floats(min_value=1e-6, max_value=1e6))
def test_on_gaussian_samples_the_winsorised_variance_is_the_variance(seed, sigma):
    """Within 10% over 20,000 draws (the estimate's own relative spread is about 1%)."""
    rng = random.Random(seed)
    draws = [rng.gauss(0.0, sigma) for _ in range(20_000)]
    square = sum(capped(d * d, sigma * sigma) for d in draws) / len(draws)
    assert variance(square) == pytest.approx(sigma * sigma, rel=0.1)


def ar1(seed: int, phi: float, n: int) -> list[float]:
    rng, e, out = random.Random(seed), 0.0, []
    for _ in range(n):
        e = phi * e + math.sqrt(1.0 - phi * phi) * rng.gauss(0.0, 1.0)
        out.append(e)
    return out


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.floats(min_value=0.0, max_value=0.8))
def test_the_spread_of_the_mean_is_that_of_the_noise(seed, phi):
    """The mean of three AR(1) values of unit spread varies (3 + 4 phi + 2 phi^2) / 9: the
    learned spread finds it within 25% (each side's estimate rests on about 500 means)."""
    v = LevelShift(points=3, memory=1000, quiet=500)
    for u in ar1(seed, phi, 4000):
        v.learn(u)
    true = math.sqrt((3.0 + 4.0 * phi + 2.0 * phi * phi) / 9.0)
    assert v.spread(1.0) == pytest.approx(true, rel=0.25)
    assert v.spread(-1.0) == pytest.approx(true, rel=0.25)


@settings(max_examples=20, deadline=None)
@given(
    st.integers(min_value=0, max_value=2**32),
    st.floats(min_value=0.0, max_value=0.8),
    st.sampled_from([1.0, -1.0]),
)
def test_one_spike_of_any_size_moves_the_spread_of_the_mean_by_a_bounded_amount(seed, phi, sign):
    """The spike enters three means; each adds at most three spreads' square at the rate
    2 / memory, whatever the spike's size."""
    spreads = []
    for size in (30.0, 3e3, 3e9):
        v = LevelShift(points=3, memory=1000, quiet=500)
        for u in ar1(seed, phi, 2000):
            v.learn(u)
        before = v.spread(sign)
        for u in [sign * size, 0.0, 0.0]:
            v.learn(u)
        spreads.append(v.spread(sign))
        k = winsorised_second_moment(CLIP)
        assert v.spread(sign) <= before * (1.0 + 0.002 * CLIP**2 / k) ** 1.5 + 1e-12
    assert spreads[1] == pytest.approx(spreads[2], rel=1e-12)
