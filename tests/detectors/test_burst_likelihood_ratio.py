"""A thin team's outage told from its usual rate by a sequential test: the log-likelihood
ratio of its failures under an outage (`burst_share` of the calls failing) against the
team's learned rate, over the latest windows of the span. A few calls, most failing, reach
the alert point in a window or two; a team whose usual rate is high, or a busy team's bad
minutes, make the ratio fall."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import DetectorsConfig
from detectors.binomial_evidence import burst_log_likelihood_ratio
from detectors.config import default_detectors
from detectors.ewma import EwmaChart, EwmaParams

SPEC = {d.id: d for d in default_detectors()}["error-rate-per-team"]
STEP = SPEC.interval
PEOPLE = ("a@corp.example", "b@corp.example", "c@corp.example")


def team_chart(**changes: float) -> EwmaChart:
    return EwmaChart(EwmaParams(step=STEP, **{**SPEC.params, **changes}))


def point(failed: list[str], n: int) -> tuple[float, tuple[str, ...], tuple[int, ...]]:
    """A window's point as the detector makes it: the share, the failing people, their hits."""
    who = sorted(set(failed))
    return (len(failed) / n, tuple(who), tuple(failed.count(p) for p in who))


def thin_team(m: EwmaChart, rng: random.Random, windows: int, rate: float) -> float:
    """Three people, about two calls a minute between them, with idle minutes between."""
    t = 0.0
    for _ in range(windows):
        t += STEP * rng.choice((1, 1, 1, 2, 4))
        n = rng.randint(2, 6)
        failed = [rng.choice(PEOPLE) for _ in range(n) if rng.random() < rate]
        m.learn_one(point(failed, n), t, n)
    return t


@settings(max_examples=150, deadline=None)
@given(
    k=st.integers(0, 30),
    n=st.integers(1, 60),
    rate=st.floats(0.0, 0.02),
    trials=st.floats(500, 50_000),
    share=st.floats(0.25, 0.95),
)
def test_one_more_failure_is_more_evidence_and_one_more_success_is_less(k, n, rate, trials, share):
    """Against a rate of 2% or less learned from 500 calls or more, an outage of a quarter of
    the calls failing or more: the same calls with one more failed say more, one more call
    that succeeded says less."""
    k, hits = min(k, n), rate * trials
    nats = burst_log_likelihood_ratio(k, n, hits, trials, share)
    assert math.isfinite(nats)
    if k < n:
        assert burst_log_likelihood_ratio(k + 1, n, hits, trials, share) > nats
    assert burst_log_likelihood_ratio(k, n + 1, hits, trials, share) < nats


def test_a_thin_history_claims_less_than_a_long_one():
    """Three failures of eight against 0.5% learned from 200 calls are less evidence than
    against the same rate learned from 20,000."""
    thin = burst_log_likelihood_ratio(3, 8, 1.0, 200.0, 0.3)
    long = burst_log_likelihood_ratio(3, 8, 100.0, 20_000.0, 0.3)
    assert 0.0 < thin < long


# A thin team's burst: a call every 30 seconds between the three people, 40% of them failing
# (seconds after the start, and who).
BURST_CALLS = [5.0 + 30.0 * i for i in range(20)]
BURST_FAILURES = {35.0: PEOPLE[0], 95.0: PEOPLE[1], 185.0: PEOPLE[0], 245.0: PEOPLE[2],
                  335.0: PEOPLE[1], 425.0: PEOPLE[0], 455.0: PEOPLE[2], 545.0: PEOPLE[1]}  # fmt: skip


def first_page(m: EwmaChart, t0: float, into: float) -> float | None:
    """Seconds from the burst's start (`into` seconds into the window after t0) to the end
    of the first window that scores at the alert point, within five minutes."""
    start = t0 + into
    t = t0
    while t + STEP <= start + 300.0:
        window = [s for s in BURST_CALLS if t <= start + s < t + STEP]
        failed = [BURST_FAILURES[s] for s in window if s in BURST_FAILURES]
        if len(window) >= SPEC.min_count:
            x = point(failed, len(window))
            if m.score_one(x, t, len(window)) >= 0.5:
                return t + STEP - start
            m.learn_one(x, t, len(window))
        t += STEP
    return None


@pytest.mark.parametrize("seed", [1, 6, 17])
@pytest.mark.parametrize("into", [1.0, 60.0, 119.0])
def test_a_thin_teams_burst_pages_within_five_minutes_wherever_in_a_window_it_starts(seed, into):
    """Two calls a minute across three people against their usual 0.8%, 40% failing from
    `into` seconds into a window: three or four failures of eight to ten calls. The default
    detector pages within five minutes; without the likelihood ratio (the counted evidence's
    tail probability alone), later or not at all."""
    paged = {}
    for nats in (SPEC.params["burst_nats"], 0.0):
        m = team_chart(burst_nats=nats)
        paged[nats] = first_page(m, thin_team(m, random.Random(seed), 3000, rate=0.008), into)
    with_ratio, without = paged[SPEC.params["burst_nats"]], paged[0.0]
    assert with_ratio is not None
    assert without is None or without >= with_ratio


def ordinary_weeks(seed: int, rate: float, **changes: float) -> tuple[list[float], float]:
    """Two weeks of a thin team's working hours failing `rate` of its calls (every failing
    window credited to two people, the most lenient reading of the people's rule): the
    scores, and the largest likelihood ratio of an outage seen."""
    rng = random.Random(seed)
    m = team_chart(**changes)
    t = thin_team(m, rng, 300, rate)
    scores, worst = [], 0.0
    for _ in range(14 * 250):
        t += STEP * rng.choice((1, 1, 2))
        n = rng.randint(2, 6)
        k = sum(rng.random() < rate for _ in range(n))
        x = point([PEOPLE[i % 2] for i in range(k)], n)
        scores.append(m.score_one(x, t, n))
        worst = max(worst, m.burst_nats(x[0], n, t))
        m.learn_one(x, t, n)
    return scores, worst


@pytest.mark.parametrize("seed", [2, 9, 21])
def test_a_teams_ordinary_failures_at_its_usual_rate_stay_below_the_ratios_bound(seed):
    """A team failing 1% of its calls (a twentieth of the outage's share or less: the ratio
    judges it): its ordinary runs of failures over two weeks do not reach the bound."""
    _, worst = ordinary_weeks(seed, 0.01)
    assert 0.0 < worst < SPEC.params["burst_nats"]


@pytest.mark.parametrize("seed", [2, 9, 21])
@pytest.mark.parametrize("rate", [0.03, 0.15])
def test_a_team_whose_usual_error_rate_is_high_is_not_judged_by_the_ratio(seed, rate):
    """Against a usual 3% or 15% the ratio's bound is no rare event (a team's runs of failures
    reach it within weeks): the ratio is not asked, and the team scores as it would without."""
    with_ratio, _ = ordinary_weeks(seed, rate)
    without, _ = ordinary_weeks(seed, rate, burst_nats=0.0)
    assert with_ratio == without


@pytest.mark.parametrize("share", [0.0, 1.0, 1.5])
def test_the_outage_share_is_a_share_below_one(share):
    entry = {
        "id": "burst", "kind": "ewma", "aggregation": "rate", "condition": {"status": "error"},
        "group_by": ["team"], "params": {"noise": "binomial", "evidence": 4.5, "burst_nats": 8,
                                         "burst_share": share},
    }  # fmt: skip
    with pytest.raises(ValueError, match="burst_share"):
        DetectorsConfig.model_validate({"detectors": [entry]})


@settings(max_examples=150, deadline=None)
@given(
    k=st.integers(0, 30),
    n=st.integers(1, 60),
    rate=st.floats(0.0, 0.05),
    trials=st.floats(0, 50_000),
    ordinary=st.floats(0.01, 0.2),
)
def test_an_ordinary_share_only_ever_lowers_the_evidence(k, n, rate, trials, ordinary):
    """Judged against the likelier of the learned rate and an ordinary share of failures (a
    person's bad afternoon), the same calls are never more evidence of a burst than against
    the learned rate alone, and failures at that share or below are none at all."""
    k, hits, share = min(k, n), rate * trials, 0.5
    alone = burst_log_likelihood_ratio(k, n, hits, trials, share)
    composite = burst_log_likelihood_ratio(k, n, hits, trials, share, ordinary=ordinary)
    assert composite <= alone + 1e-9
    if k <= ordinary * n:
        assert composite <= 0.0


def test_a_bad_afternoon_is_no_burst_however_thin_the_person():
    """Three failures in twelve calls of a person failing 0.5% of the time: a quarter failing,
    news against their rate alone, yet as likely a bad afternoon's run as a burst's; five of
    eight are a burst."""
    hits, trials = 2.5, 500.0
    assert burst_log_likelihood_ratio(3, 12, hits, trials, 0.5) > 6.0
    assert burst_log_likelihood_ratio(3, 12, hits, trials, 0.5, ordinary=0.1) < 0.0
    assert burst_log_likelihood_ratio(5, 8, hits, trials, 0.5, ordinary=0.1) > 6.0
