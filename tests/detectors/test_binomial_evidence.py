"""A team's error burst judged by counted evidence: a small team's few calls, most of them
failing, are overwhelming evidence within a window or two, while one failed call never is,
and a thin history of the team's rate claims less than a long one."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.binomial_evidence import beta_binomial_tail, evidence_z
from detectors.config import params_model
from detectors.ewma import EwmaChart, EwmaParams

STEP = 120.0  # two-minute windows, as the team error-rate detector's


def chart(evidence: float) -> EwmaChart:
    return EwmaChart(
        EwmaParams(direction="up", noise="binomial", lam=0.7, z=3.5, step=STEP, evidence=evidence)
    )


def small_team_day(m: EwmaChart, rng: random.Random, windows: int, rate: float) -> float:
    """A few people's calls: one to four per active two minutes, a share `rate` failing."""
    t = 0.0
    for _ in range(windows):
        t += STEP * rng.choice((1, 1, 1, 2, 5))  # idle minutes in between
        n = rng.randint(1, 4)
        k = sum(rng.random() < rate for _ in range(n))
        m.learn_one(k / n, t, n)
    return t


def burst_scores(m: EwmaChart, t: float, windows: int, calls: int = 4) -> list[float]:
    """Windows of `calls` calls, half of them failing; the chart learns as it goes."""
    scores = []
    for _ in range(windows):
        t += STEP
        scores.append(m.score_one(0.5, t, calls))
        m.learn_one(0.5, t, calls)
    return scores


@pytest.mark.parametrize("seed", [1, 7, 23, 40])
def test_a_small_teams_burst_pages_once_its_failures_are_overwhelming(seed):
    """Two calls a minute, half failing, against a 1% rate: six failures of twelve calls (the
    third window) page; the chart of the share alone does not yet."""
    rng = random.Random(seed)
    m = chart(evidence=4.5)
    t = small_team_day(m, rng, 2000, rate=0.01)
    scores = burst_scores(m, t, 3)
    assert scores[0] < 0.5  # two failures of four: not yet
    assert scores[2] >= 0.5
    rng = random.Random(seed)
    alone = chart(evidence=0.0)
    t = small_team_day(alone, rng, 2000, rate=0.01)
    assert max(burst_scores(alone, t, 3)) < 0.5


@pytest.mark.parametrize("seed", [2, 5, 11])
def test_a_single_failed_call_is_never_an_alert(seed):
    rng = random.Random(seed)
    m = chart(evidence=4.5)
    t = small_team_day(m, rng, 2000, rate=0.01)
    for n in (1, 2, 3, 8):
        assert m.score_one(1.0 / n, t + STEP, n) < 0.5


def test_a_quiet_teams_ordinary_failures_do_not_alert_over_weeks():
    """A team failing 3% of its calls, in windows of one to four calls, for two weeks of
    working hours: its ordinary pairs of failures stay below the alert point."""
    rng = random.Random(3)
    m = chart(evidence=4.5)
    small_team_day(m, rng, 200, rate=0.03)
    t, worst = 1e6, 0.0
    for _ in range(14 * 200):
        t += STEP * rng.choice((1, 1, 2))
        n = rng.randint(1, 4)
        k = sum(rng.random() < 0.03 for _ in range(n))
        worst = max(worst, m.score_one(k / n, t, n))
        m.learn_one(k / n, t, n)
    assert worst < 0.5


def test_a_teams_rate_past_its_alert_point_is_not_learned_as_usual():
    rng = random.Random(9)
    m = chart(evidence=4.5)
    t = small_team_day(m, rng, 400, rate=0.01)
    before = (m.hits + 0.5) / (m.trials + 1.0)
    burst_scores(m, t, 6)
    assert (m.hits + 0.5) / (m.trials + 1.0) < 2 * before


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(1, 60),
    hits=st.floats(0, 50),
    extra=st.floats(0, 5000),
    data=st.data(),
)
def test_more_hits_are_more_evidence_and_a_longer_history_claims_more(n, hits, extra, data):
    trials = hits + extra
    k = data.draw(st.integers(1, n))
    assert evidence_z(k, n, hits, trials) <= evidence_z(min(k + 1, n), n, hits, trials) + 1e-9
    tail = beta_binomial_tail(k, n, hits, trials)
    assert 0.0 <= tail <= 1.0
    mean = (hits + 0.5) / (trials + 1.0)
    if k > n * mean:  # the same rate, learned from ten times the history: at least as sure
        assert (
            evidence_z(k, n, 10 * hits + 4.5 * mean, 10 * trials + 9)
            >= evidence_z(k, n, hits, trials) - 1e-6
        )


def test_the_tail_sums_to_one_from_zero_and_matches_a_direct_sum():
    from math import comb, exp, lgamma

    def log_beta(a, b):
        return lgamma(a) + lgamma(b) - lgamma(a + b)

    n, hits, trials = 12, 3.0, 40.0
    a, b = hits + 0.5, trials - hits + 0.5
    pmf = [comb(n, j) * exp(log_beta(j + a, n - j + b) - log_beta(a, b)) for j in range(n + 1)]
    assert sum(pmf) == pytest.approx(1.0)
    for k in range(1, n + 1):
        assert beta_binomial_tail(k, n, hits, trials) == pytest.approx(sum(pmf[k:]), rel=1e-6)


def test_evidence_is_a_parameter_that_may_be_off_but_not_negative():
    model = params_model("ewma")
    assert model(evidence=0).evidence == 0
    assert model(evidence=5).evidence == 5
    with pytest.raises(ValueError):
        model(evidence=-1)


@pytest.mark.parametrize("seed", [4, 8, 15])
def test_a_lone_persons_failures_between_pauses_add_up_to_a_team_burst(seed):
    """One person is the team's only activity: two failures of four calls, a window of two
    calls without failure, a silent window, then two failures of three. The evidence is
    the sum over the last four steps, so the third active window pages; a pause or a lucky
    window between does not start the count again."""
    rng = random.Random(seed)
    m = chart(evidence=4.5)
    t = small_team_day(m, rng, 2000, rate=0.005)
    scores = []
    for hits, calls in [(2, 4), (0, 2), (0, 0), (2, 3)]:
        t += STEP
        if calls:
            scores.append(m.score_one(hits / calls, t, calls))
            m.learn_one(hits / calls, t, calls)
    assert max(scores[:2]) < 0.5 <= scores[-1]
    # the same windows with the first one out of reach (four steps back) are not enough
    m2 = chart(evidence=4.5)
    t = small_team_day(m2, random.Random(seed), 2000, rate=0.005)
    m2.learn_one(0.5, t + STEP, 4)
    m2.learn_one(0.0, t + 2 * STEP, 2)
    assert m2.score_one(2 / 3, t + 6 * STEP, 3) < 0.5


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 3), st.integers(1, 30)), min_size=1, max_size=6),
    st.integers(0, 5),
    st.integers(0, 10_000),
)
def test_one_failure_among_any_windows_never_pages(windows, failing, seed):
    """Whatever windows (any calls, any pauses) come before and around it, a single failed
    call in the last four steps is never evidence enough; one more failure in the same
    windows is never less evidence than none."""
    m = chart(evidence=4.5)
    t = small_team_day(m, random.Random(seed), 400, rate=0.01) + 4 * STEP  # the day is out of reach
    failing %= len(windows)
    for i, (steps, calls) in enumerate(windows):
        t += steps * STEP
        hits = 1 if i == failing else 0
        if i == len(windows) - 1:
            assert m.evidence(hits / calls, calls, t) < 4.5
            none = m.evidence(0.0, calls, t)
            assert m.evidence(min(calls, hits + 1) / calls, calls, t) >= none
        m.learn_one(hits / calls, t, calls)
