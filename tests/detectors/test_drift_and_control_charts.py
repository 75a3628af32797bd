"""Change-point and EWMA charts: drifts caught inside the drift, noise and old excursions left alone."""

from __future__ import annotations

import math
import random

import pytest

from detectors.changepoint import ChangePoint, ChangePointParams

LOG = ChangePointParams(direction="up", transform="log")


def run(values: list[float], params: ChangePointParams = LOG) -> list[float]:
    m = ChangePoint(params)
    scores = []
    for i, x in enumerate(values):
        scores.append(m.score_one(x, float(i)))
        m.learn_one(x, float(i))
    return scores


def noisy_level(rng: random.Random, n: int, level: float = 1000.0) -> list[float]:
    return [level * rng.lognormvariate(0.0, 0.25) for _ in range(n)]


@pytest.mark.parametrize("params", [LOG, ChangePointParams(direction="up")])
def test_a_day_long_creep_to_three_times_the_level_is_flagged_before_it_doubles(params):
    rng = random.Random(7)
    history = noisy_level(rng, 200)
    ramp = [1000.0 * (1 + 2 * i / 32) * rng.lognormvariate(0.0, 0.25) for i in range(32)]
    scores = run(history + ramp, params)
    first = next(i for i, s in enumerate(scores) if s >= 0.5)
    assert 200 <= first < 200 + 16  # before the ramp is half-way, i.e. below twice the level


def test_stationary_heavy_tailed_noise_raises_no_alarm_for_a_month_of_windows():
    for seed in range(6):
        assert max(run(noisy_level(random.Random(seed), 3000))) < 0.4, seed


def test_on_a_long_right_tail_the_log_transform_keeps_a_wider_margin_than_raw_values():
    raw = ChangePointParams(direction="up")
    for seed in range(3):
        values = noisy_level(random.Random(seed), 3000)
        assert max(run(values)) < max(run(values, raw)), seed


def test_a_lone_spike_is_not_a_change():
    values = noisy_level(random.Random(3), 200)
    values[150] = 50_000.0
    assert max(run(values)) < 0.5


def test_the_log_detector_reports_its_baseline_in_the_metric_s_own_units():
    m = ChangePoint(LOG)
    for i, x in enumerate(noisy_level(random.Random(1), 300)):
        m.learn_one(x, float(i))
    evidence = m.describe(1000.0, 300.0)
    assert 800.0 < evidence["baseline"] < 1200.0
    assert evidence["value"] == 1000.0


def test_an_ewma_chart_forgets_an_excursion_over_the_windows_a_sparse_key_skipped():
    from detectors.ewma import EwmaChart, EwmaParams

    m = EwmaChart(EwmaParams(direction="up", step=300.0, repeat=0))  # the chart's own memory
    rng = random.Random(5)
    t = 0.0
    for _ in range(200):
        m.learn_one(0.02 + 0.02 * rng.random(), t)
        t += 300.0
    for _ in range(3):  # an error burst
        m.learn_one(0.6, t)
        t += 300.0
    assert m.score_one(0.03, t) > 0.5  # the next window: the chart still remembers it
    assert m.score_one(0.03, t + 86400.0) < 0.05  # a day without points: it has passed


def ar1(rng: random.Random, n: int, phi: float, level: float = 50.0) -> list[float]:
    """An autocorrelated in-control series (a room's temperature, a queue's depth)."""
    x, out = 0.0, []
    for _ in range(n):
        x = phi * x + rng.gauss(0.0, 1.0)
        out.append(level + x)
    return out


def ewma_scores(values: list[float], point_z: float = 6.0) -> list[float]:
    from detectors.ewma import EwmaChart, EwmaParams

    m = EwmaChart(EwmaParams(point_z=point_z))
    scores = []
    for i, x in enumerate(values):
        scores.append(m.score_one(x, float(i)))
        m.learn_one(x, float(i))
    return scores


@pytest.mark.parametrize("seed", range(3))
def test_an_autocorrelated_wander_is_not_a_change_but_a_level_shift_is(seed):
    """Sums and averages of autocorrelated points wander further than those of independent
    ones; the charts measure that instead of assuming independence (which alarmed on every
    slow wander), and a real shift of several of the series' own sigmas is still caught."""
    rng = random.Random(seed)
    calm = ar1(rng, 3000, phi=0.9)  # sd of the series about 2.3
    both = ChangePointParams(direction="both")
    assert max(run(calm, both)[300:]) < 0.5
    assert max(ewma_scores(calm)[300:]) < 0.5
    shifted = calm + [v + 15.0 for v in ar1(rng, 100, phi=0.9)]
    assert max(run(shifted, both)[3000:3050]) >= 0.5
    assert max(ewma_scores(shifted)[3000:3020]) >= 0.5


def test_a_lone_spike_does_not_carry_the_chart_across_its_line_but_a_lasting_shift_does():
    rng = random.Random(21)
    calm = [50.0 + rng.gauss(0.0, 1.0) for _ in range(500)]
    spiked = [*calm, 50.0 + 40.0, *(50.0 + rng.gauss(0.0, 1.0) for _ in range(20))]
    assert max(ewma_scores(spiked, point_z=0.0)[500:]) < 0.5
    shifted = calm + [56.0 + rng.gauss(0.0, 1.0) for _ in range(10)]
    assert max(ewma_scores(shifted, point_z=0.0)[500:503]) >= 0.5


@pytest.mark.parametrize("seed", range(3))
def test_the_point_test_beside_the_chart_ranks_spikes_by_their_size(seed):
    """The chart winsorises each point, so on its own every spike scores alike; the Shewhart
    test beside it (`point_z`) scores a spike on its first point and a larger one higher,
    while the noise between stays below the alert point."""
    rng = random.Random(seed)
    calm = [50.0 + rng.gauss(0.0, 2.0) for _ in range(600)]
    chart = ewma_scores([*calm, 50.0 + 30.0], point_z=0.0)[600]
    small = ewma_scores([*calm, 50.0 + 30.0])[600]
    large = ewma_scores([*calm, 50.0 + 300.0])[600]
    assert max(ewma_scores(calm)[100:]) < 0.5
    assert chart == ewma_scores([*calm, 50.0 + 300.0], point_z=0.0)[600]  # winsorised alike
    assert 0.5 < small < large < 1.0
    dip = ewma_scores([*calm, 50.0 - 30.0])[600]
    assert dip > 0.5  # both directions by default


# The team's tokens-per-call drift detector: a median per window moves with who is at work,
# so its noise is autocorrelated (an evening of heavy-context people lasts hours).
TEAM_DRIFT = ChangePointParams(direction="up", transform="log", threshold=13.0)


def who_is_at_work(rng: random.Random, n: int, rho: float = 0.3) -> list[float]:
    """Log-normal windows around 20k tokens per call whose log wanders with lag-one rho."""
    out, e = [], 0.0
    for _ in range(n):
        e = rho * e + (1.0 - rho * rho) ** 0.5 * rng.gauss(0.0, 0.4)
        out.append(20_000.0 * math.exp(e))
    return out


def test_a_creep_on_a_young_baseline_is_not_taken_for_a_slow_wander():
    """A creep to 3.5 times over 7.5 hours, starting after 12 hours of history: its run of
    same-signed deviations must not teach the autocorrelation, which would widen the test
    until the creep hides in it (so learned, 7 of these 30 creeps were found; 12 are now,
    with none of the 30 histories alarming)."""
    found = 0
    for seed in range(30):
        rng = random.Random(seed)
        history = who_is_at_work(rng, 48)
        creep = [x * (1.0 + 2.5 * (i + 1) / 30) for i, x in enumerate(who_is_at_work(rng, 30))]
        scores = run(history + creep, TEAM_DRIFT)
        assert max(scores[:48]) < 0.5, seed
        found += max(scores[48:]) >= 0.5
    assert found >= 10


def test_autocorrelated_noise_of_who_is_at_work_raises_no_alarm_for_a_month_of_windows():
    for seed in range(6):
        assert max(run(who_is_at_work(random.Random(seed), 3000), TEAM_DRIFT)) < 0.5, seed
