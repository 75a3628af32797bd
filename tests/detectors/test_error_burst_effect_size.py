"""A team's error burst pages for an outage, not for a busy team's bad minutes: the default
team detector needs its error rate well above the usual (`min_delta`) and a few failed calls
(`min_hits`), however improbable a small rise is on many calls."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.config import default_detectors
from detectors.ewma import EwmaChart, EwmaParams

SPEC = {d.id: d for d in default_detectors()}["error-rate-per-team"]
STEP = SPEC.interval


def team_params(**changes) -> EwmaParams:
    return EwmaParams(step=STEP, **{**SPEC.params, **changes})


def busy_team(m: EwmaChart, rng: random.Random, windows: int, rate: float) -> float:
    """Forty to sixty calls per two minutes, a share `rate` failing at random."""
    t = 0.0
    for _ in range(windows):
        t += STEP
        n = rng.randint(40, 60)
        k = sum(rng.random() < rate for _ in range(n))
        m.learn_one(k / n, t, n)
    return t


def scores(m: EwmaChart, t: float, windows: list[tuple[int, int]]) -> list[float]:
    """(failures, calls) per window, scored and then learned, as the detector does."""
    out = []
    for k, n in windows:
        t += STEP
        out.append(m.score_one(k / n, t, n))
        m.learn_one(k / n, t, n)
    return out


@pytest.mark.parametrize("seed", [3, 8, 19])
def test_a_busy_teams_few_extra_failures_are_no_outage(seed):
    """Against a 1% rate, three windows of 7-9% failing (eleven failures in 130 calls) are
    improbable; without `min_delta` they page, with the defaults they do not."""
    bad_minutes = [(4, 45), (3, 40), (4, 45)]
    rng = random.Random(seed)
    loose = EwmaChart(team_params(min_delta=0.0, min_hits=0))
    t = busy_team(loose, rng, 1500, rate=0.01)
    assert max(scores(loose, t, bad_minutes)) >= 0.5
    rng = random.Random(seed)
    m = EwmaChart(team_params())
    t = busy_team(m, rng, 1500, rate=0.01)
    assert max(scores(m, t, bad_minutes)) < 0.5


@pytest.mark.parametrize("seed", [3, 8, 19])
def test_an_outage_still_pages_in_its_first_windows(seed):
    """A fifth of the calls failing (the thinnest outage we page for) pages in its second
    window; half failing, in its first."""
    for burst, within in (([(9, 45), (10, 48)], 2), ([(24, 48)], 1)):
        rng = random.Random(seed)
        m = EwmaChart(team_params())
        t = busy_team(m, rng, 1500, rate=0.01)
        assert max(scores(m, t, burst)[:within]) >= 0.5


@settings(max_examples=40, deadline=None)
@given(calls=st.integers(1, 30), window=st.integers(0, 3), seed=st.integers(0, 50))
def test_fewer_than_three_failures_never_page(calls, window, seed):
    """Two failed calls, in one window or split over the evidence's windows, never page,
    whatever the team's size (one of two calls is 50%, well beyond `min_delta`)."""
    rng = random.Random(seed)
    m = EwmaChart(team_params())
    t = 0.0
    for _ in range(200):
        t += STEP
        n = rng.randint(1, 6)
        m.learn_one(0.0, t, n)  # a quiet team that never fails
    windows = [(0, calls)] * window + [(1, calls), (1, calls)]
    assert max(scores(m, t, windows)) < 0.5


@pytest.mark.parametrize("seed", [3, 8, 19])
def test_a_calmer_window_of_an_outage_under_way_still_scores(seed):
    """Two windows of 40% failing, then one of 7%: the calmer window alone is under
    `min_delta`, joined to the outage's windows before it is not, so the incident holds."""
    rng = random.Random(seed)
    m = EwmaChart(team_params())
    t = busy_team(m, rng, 1500, rate=0.01)
    assert min(scores(m, t, [(18, 45), (20, 50), (3, 45)])) >= 0.5
