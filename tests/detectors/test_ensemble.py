"""The likelihood-and-window ensemble: a far excursion always speaks, once; noise stays quiet."""

from __future__ import annotations

import doctest
import math
import pickle
import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import detectors.ensemble
from detectors.ensemble import Ensemble, EnsembleParams
from detectors.likelihood import AnomalyLikelihood, LikelihoodParams


def test_the_examples_in_the_docstrings_hold():
    result = doctest.testmod(detectors.ensemble)
    assert result.attempted > 0 and result.failed == 0


def run(xs, model=None, step=300.0):
    m = model or Ensemble()
    out = []
    for i, x in enumerate(xs):
        out.append(m.score_one(x, i * step))
        m.learn_one(x, i * step)
    return m, out


def alarms(scores, start=600):
    return [i for i, s in enumerate(scores) if s >= 0.5 and i >= start]


def spiky(n, rng, every=97, size=40.0):
    """Noise with a large spike at a fixed cadence: spikes the likelihood learns to expect."""
    return [rng.gauss(100, 2) + (size if i % every == 0 else 0.0) for i in range(n)]


def test_an_excursion_far_outside_a_spiky_history_speaks_where_the_likelihood_does_not():
    rng = random.Random(3)
    xs = spiky(3000, rng)
    xs[2500] = 100.0 + 45.0 * 1.8  # larger than every spike before, not by decades
    _, mine = run(xs)
    _, like = run(xs, AnomalyLikelihood(LikelihoodParams()))
    assert like[2500] < 0.5 <= mine[2500]
    assert alarms(mine) == [2500]  # the spikes it has seen in its quiet period: no news


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("scale", "offset"), [(1.0, 0.0), (1e-4, 0.0), (1.0, 1e9)])
def test_a_level_shift_alarms_on_its_first_point_then_keeps_quiet(seed, scale, offset):
    rng = random.Random(seed)
    xs = [offset + scale * (rng.gauss(100, 3) + (40 if i >= 2500 else 0)) for i in range(3500)]
    _, scores = run(xs)
    fired = alarms(scores)
    assert fired and 2500 <= fired[0] <= 2502
    assert len([i for i in fired if i > 2502]) <= 1


def _walk(rng, n):
    x = 100.0
    for _ in range(n):
        x += rng.gauss(0, 1) - 0.002 * (x - 100)
        yield x


@pytest.mark.parametrize("seed", range(3))
def test_noise_of_many_shapes_stays_nearly_quiet(seed):
    rng = random.Random(seed)
    shapes = {
        "white": [rng.gauss(10, 2) for _ in range(4000)],
        "daily": [50 + 20 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, 1) for i in range(4000)],
        "walk": list(_walk(rng, 4000)),
        "counts": [float(sum(rng.random() < 0.05 for _ in range(40))) for _ in range(4000)],
        "uniform": [rng.uniform(-5, 5) for _ in range(4000)],
    }
    for name, xs in shapes.items():
        _, scores = run(xs)
        assert len(alarms(scores)) <= 3, name


@pytest.mark.parametrize("direction", ["up", "down"])
def test_one_sided_ensembles_ignore_the_other_side(direction):
    rng = random.Random(9)
    xs = [rng.gauss(100, 3) for _ in range(3000)]
    xs[2000] = 300.0
    xs[2600] = -100.0
    _, scores = run(xs, Ensemble(EnsembleParams(direction=direction)))
    counted, ignored = (2000, 2600) if direction == "up" else (2600, 2000)
    assert scores[counted] >= 0.5
    assert scores[ignored] < 0.1


def test_a_flat_metric_alarms_on_its_first_change_and_not_on_every_one_after():
    """Off a constant window every change is infinitely improbable; only the first is news."""
    xs = [5.0] * 1000 + [6.0, 5.0, 6.0, 5.0, 7.0, 5.0] + [5.0] * 50
    _, scores = run(xs)
    assert scores[1000] == 1.0
    assert max(scores[1001:]) <= 0.25


def test_nothing_is_scored_before_min_points():
    xs = [1.0] * 50 + [1e6]
    _, scores = run(xs, Ensemble(EnsembleParams(min_points=100)))
    assert max(scores) == 0.0


def test_the_window_statistics_stay_exact_at_a_large_level_with_a_small_spread():
    rng = random.Random(5)
    xs = [1e9 + rng.gauss(0, 0.5) for _ in range(5000)]
    m, _ = run(xs, Ensemble(EnsembleParams(gauss_window=300)))
    mean, sd = m._moments()
    window = xs[-300:]
    assert mean == pytest.approx(statistics.fmean(window), abs=1e-6)
    assert sd == pytest.approx(statistics.stdev(window), rel=1e-3)


def test_a_new_key_starts_from_its_parents_window():
    rng = random.Random(2)
    parent, _ = run([rng.gauss(50, 1) for _ in range(1000)])
    child = parent.spawn()
    assert list(child.window) == list(parent.window)
    assert child.score_one(50.5, 1000 * 300.0) < 0.2
    assert child.score_one(90.0, 1000 * 300.0) >= 0.5


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(
    xs=st.lists(finite, min_size=1, max_size=400),
    window=st.integers(2, 60),
    quiet=st.integers(0, 80),
    direction=st.sampled_from(["up", "down", "both"]),
    cut=st.integers(0, 400),
)
def test_any_series_scores_in_range_with_bounded_state_and_a_snapshot_resumes_exactly(
    xs, window, quiet, direction, cut
):
    params = EnsembleParams(
        gauss_window=window, refractory=quiet, direction=direction, min_points=5, contexts=64
    )
    cut = min(cut, len(xs))
    m, first = run(xs[:cut], Ensemble(params))
    copy = pickle.loads(pickle.dumps(m))
    _, again = run(xs[:cut], Ensemble(params))  # the same series, the same scores
    assert again == first
    for i, x in enumerate(xs[cut:], start=cut):
        s = m.score_one(x, i * 60.0)
        assert 0.0 <= s <= 1.0
        assert copy.score_one(x, i * 60.0) == s
        m.learn_one(x, i * 60.0)
        copy.learn_one(x, i * 60.0)
    assert len(m.window) <= window
    assert len(m.quiet.blocks) < 8
    assert len(m.like.table) == 128 and m.like.taken <= 64


def burst_after_a_spike(spike: float, burst: float) -> float:
    """The level shift vote on the third point of three equal values `burst` standard
    deviations out, 150 points after one value `spike` out, on white noise (the score itself
    may be suppressed there: the burst's first point was announced already)."""
    rng = random.Random(5)
    xs = [rng.gauss(0.0, 1.0) for _ in range(1600)]
    xs[1300] = spike
    xs[1450:1453] = [burst] * 3
    m, _ = run(xs[:1452])
    return m.votes(xs[1452], 1452 * 300.0)["level_shift"]


@pytest.mark.parametrize(
    ("spike", "burst", "speaks"),
    [(0.0, 5.5, True), (6.0, 5.5, False), (6.0, 7.0, True), (8.0, 7.0, False)],
)
def test_the_level_shift_vote_speaks_only_for_a_mean_beyond_every_recent_single_point(
    spike, burst, speaks
):
    """Three points as far out as one point went lately are a burst of a recurring size, not a
    new level: the vote counts only when their mean, read as one point, passes the largest
    single point of the quiet period before them."""
    score = burst_after_a_spike(spike, burst)
    assert (score >= 0.4) == speaks
    assert speaks or score < 0.25


def two_spikes(params: EnsembleParams) -> tuple[Ensemble, list[float]]:
    """White noise with two spikes of 40 standard deviations three points apart."""
    rng = random.Random(11)
    xs = [rng.gauss(0.0, 1.0) for _ in range(1300)]
    xs[1200] = xs[1203] = 40.0
    return run(xs, Ensemble(params))


def test_a_repeat_within_a_few_points_is_not_announced_again():
    _, scores = two_spikes(EnsembleParams())
    assert scores[1200] == 1.0
    assert scores[1201:1204] == [0.0, 0.0, 0.0]  # the second spike passes nothing: 1 is 1
    assert max(scores[1204:]) < 0.5


def test_with_no_quiet_period_every_spike_counts():
    _, scores = two_spikes(EnsembleParams(refractory=0))
    assert scores[1200] == 1.0 and scores[1203] == 1.0
