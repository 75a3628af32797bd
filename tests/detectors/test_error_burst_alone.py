"""A team's only person at work failing is the team failing: when the points also say who
called (a third metric, the distinct people among all the team's calls), one failing person
is enough for `min_subjects` if nobody else of the team called within the evidence's span.
A colleague whose calls go through meanwhile keeps it that person's own incident."""

from __future__ import annotations

import copy
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.config import DetectorSpec, default_detectors
from detectors.ewma import EwmaChart, EwmaParams
from detectors.rollup import Accumulator

SPEC = {d.id: d for d in default_detectors()}["error-rate-per-team"]
STEP = SPEC.interval
Point = tuple[float, tuple[str, ...], tuple[int, ...], tuple[str, ...]]


def team_params() -> EwmaParams:
    return EwmaParams(step=STEP, **SPEC.params)


def point(failed: list[str], ok: list[str]) -> tuple[Point, int]:
    """A window's point as the detector set makes it from three metrics: the rate, the
    people among the failed calls, the people among all calls."""
    accs, rng = [Accumulator(), Accumulator(), Accumulator()], random.Random(0)
    for who in failed:
        accs[0].add("rate", 1.0, rng)
        accs[1].add("distinct", who, rng)
        accs[2].add("distinct", who, rng)
    for who in ok:
        accs[0].add("rate", 0.0, rng)
        accs[2].add("distinct", who, rng)
    x = EwmaChart.point(accs, ["rate", "distinct", "distinct"], 1)
    assert isinstance(x, tuple) and len(x) == 4
    return x, len(failed) + len(ok)


def warmed(seed: int) -> tuple[EwmaChart, float]:
    """A team of six people by day, 0.5% of its calls failing, then as many windows without a
    call as the evidence spans (a night)."""
    rng, m, t = random.Random(seed), EwmaChart(team_params()), 0.0
    for _ in range(300):
        t += STEP
        calls = [f"p{rng.randrange(6)}" for _ in range(rng.randint(10, 20))]
        failed = [c for c in calls if rng.random() < 0.005]
        ok = [c for c in calls if c not in failed]
        x, n = point(failed, ok)
        m.learn_one(x, t, n)
    return m, t + team_params().span * STEP


def run(m: EwmaChart, t: float, windows: list[tuple[list[str], list[str]]]) -> list[float]:
    out = []
    for failed, ok in windows:
        t += STEP
        x, n = point(failed, ok)
        out.append(m.score_one(x, t, n))
        m.learn_one(x, t, n)
    return out


def test_a_point_names_the_callers_whose_calls_went_through():
    x, n = point(["p1", "p1"], ["p1", "p2", "p3"])
    assert n == 5 and x[1] == ("p1",) and x[2] == (2,) and x[3] == ("p2", "p3")


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_the_only_person_at_work_failing_pages_for_the_team(seed):
    m, t = warmed(seed)
    # four calls a window, two of them failing: one person, alone on the team tonight
    scores = run(m, t, [(["p3", "p3"], ["p3", "p3"])] * 3)
    assert max(scores[:2]) >= 0.5


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 8))
def test_one_person_failing_beside_a_colleague_whose_calls_go_through_never_pages(seed, k):
    m, t = warmed(seed)
    assert max(run(m, t, [(["p3", "p3"], ["p3", "p5"])] * k)) == 0.0


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_a_colleague_who_called_within_the_span_still_counts(seed):
    """The colleague's calls went through two windows before the burst; while that window is
    within the evidence's span (`span` - 1 steps before), the person failing is not the only
    one of the team at work."""
    m, t = warmed(seed)
    span = team_params().span
    scores = run(m, t, [([], ["p5"]), ([], ["p3"])] + [(["p3", "p3"], ["p3", "p3"])] * span)
    assert max(scores[2:span]) == 0.0
    assert scores[-1] >= 0.5, "once the colleague's window leaves the span, the team pages"


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_without_the_callers_metric_one_person_alone_never_pages_for_the_team(seed):
    m, t = warmed(seed)
    scores = []
    for _ in range(4):
        t += STEP
        x, n = point(["p3", "p3"], ["p3", "p3"])
        scores.append(m.score_one(x[:3], t, n))
        m.learn_one(x[:3], t, n)
    assert max(scores) == 0.0


def test_the_default_team_detector_asks_two_people():
    """Opt-in: by default one person failing never pages for their team (see defaults.yml):
    no callers metric, only the failing people and the routes of calls and failures."""
    names = [m.name for m in SPEC.metric_specs]
    assert names == ["error_rate", "failing_people", "routes", "failing_routes"]


@pytest.mark.parametrize("third", ["count", "rate"])
def test_a_third_metric_is_the_distinct_callers_only(third):
    metrics = [
        {"aggregation": "rate", "condition": {"status": "error"}},
        {"aggregation": "distinct", "field": "user", "condition": {"status": "error"}},
        {"aggregation": third, "field": "user", "condition": {"status": "error"}},
    ]
    with pytest.raises(ValueError, match="distinct subjects of all its events"):
        DetectorSpec(id="t", kind="ewma", metrics=metrics, group_by=["team"])


def lone(m: EwmaChart, t: float, rng: random.Random, rate: float, calls: tuple[int, int]) -> bool:
    """One window of the only person at work: `calls` calls or so, each failing at `rate`;
    whether it pages (scored, then learned)."""
    n = rng.randint(*calls)
    k = sum(rng.random() < rate for _ in range(n))
    x, n = point(["p3"] * k, ["p3"] * (n - k))
    paged = m.score_one(x, t, n) >= 0.5
    m.learn_one(x, t, n)
    return paged


def test_the_only_person_at_work_failing_at_the_teams_rate_stays_quiet():
    """Stationary draws: a lone person's two to eight calls a window failing at the team's
    1%, 2,000 windows (almost three nights) on each of five teams. Measured: no alarm in the
    10,000 windows; asked: at most one (a false alarm rate below 1 in 5,000 team-windows)."""
    alarms = 0
    for seed in range(5):
        m, t = warmed(seed)
        rng = random.Random(seed + 100)
        for i in range(2000):
            alarms += lone(m, t + (i + 1) * STEP, rng, 0.01, (2, 8))
    assert alarms <= 1


def test_the_only_person_at_work_in_a_burst_pages_within_minutes_mostly():
    """Seeded bursts: 40% of a lone person's three to six calls a window (one and a half to
    three calls a minute) failing. Measured over these 100 draws: 62 page in the first two
    windows (four minutes), 83 within three; asked: 50 and 75. Thinner than a team's burst,
    so slower: the first three failures take most of five minutes at that pace."""
    teams, first = [warmed(seed) for seed in range(20)], []
    for seed in range(100):
        m, t = copy.deepcopy(teams[seed % 20])
        rng = random.Random(seed)
        paged = [lone(m, t + (i + 1) * STEP, rng, 0.4, (3, 6)) for i in range(3)]
        first.append(paged.index(True) + 1 if True in paged else 99)
    assert sum(w <= 2 for w in first) >= 50
    assert sum(w <= 3 for w in first) >= 75
