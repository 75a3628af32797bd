"""Each estimator flags what its docstring calls anomalous, and nothing ordinary."""

from __future__ import annotations

import math
import pickle
import random
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.absence import Absence, AbsenceParams
from detectors.budget import BudgetBurn, BudgetParams
from detectors.changepoint import ChangePoint, ChangePointParams
from detectors.ewma import EwmaChart, EwmaParams
from detectors.halfspace import HalfSpaceParams, HalfSpaceScorer
from detectors.new_value import NewValue
from detectors.seasonal import SeasonalBaseline, SeasonalParams

MONDAY = 1793577600.0  # 2026-11-02T00:00:00Z
HOUR = 3600.0
STEP = 300.0


def office_load(t: float, rng: random.Random) -> float:
    """Busy in working hours on weekdays, quiet at night and on weekends, with noise."""
    hour = (t % 86400) / 3600
    weekday = int(((t - MONDAY) // 86400) % 7) < 5
    base = 100.0 if (weekday and 9 <= hour < 18) else 10.0
    return base + rng.gauss(0, base * 0.05)


def run(model, series):
    scores = []
    for t, x in series:
        scores.append(model.score_one(x, t))
        model.learn_one(x, t)
    return scores


def test_seasonal_knows_busy_hours_and_flags_a_spike_in_a_quiet_hour():
    rng = random.Random(1)
    m = SeasonalBaseline(SeasonalParams(direction="up", step=STEP))
    series = [(MONDAY + i * STEP, office_load(MONDAY + i * STEP, rng)) for i in range(12 * 24 * 15)]
    scores = run(m, series)
    after_two_weeks = scores[12 * 24 * 14 :]
    assert max(after_two_weeks) < 0.5, "ordinary weekday peaks must not look anomalous"
    night = MONDAY + 15 * 86400 + 2 * HOUR
    assert m.score_one(100.0, night) > 0.99, "a working-hours load at 2am is a spike"
    busy = MONDAY + 15 * 86400 + 11 * HOUR
    assert m.score_one(100.0, busy) < 0.1


def test_seasonal_tells_weekends_from_weekdays():
    rng = random.Random(2)
    m = SeasonalBaseline(SeasonalParams(direction="up", step=STEP))
    run(m, [(MONDAY + i * STEP, office_load(MONDAY + i * STEP, rng)) for i in range(12 * 24 * 14)])
    saturday_noon = MONDAY + 19 * 86400 + 12 * HOUR
    assert m.score_one(100.0, saturday_noon) > 0.9
    assert m.score_one(11.0, saturday_noon) < 0.1


def test_seasonal_accepts_a_lasting_shift_as_the_new_normal():
    m = SeasonalBaseline(SeasonalParams(direction="both", step=HOUR, adapt_after=24))
    rng = random.Random(3)
    series = [(i * HOUR, 50.0 + rng.gauss(0, 1)) for i in range(24 * 10)]
    series += [(i * HOUR, 80.0 + rng.gauss(0, 1)) for i in range(24 * 10, 24 * 30)]
    scores = run(m, series)
    assert scores[24 * 10] > 0.99, "the shift itself is anomalous"
    assert max(scores[-24 * 5 :]) < 0.5, "three weeks later it is normal"


def test_poisson_noise_keeps_a_few_events_from_being_a_spike():
    m = SeasonalBaseline(SeasonalParams(direction="up", step=STEP, noise="poisson"))
    for i in range(500):
        m.learn_one(0.0, MONDAY + i * STEP)
    t = MONDAY + 500 * STEP
    assert m.score_one(2.0, t) < 0.2
    assert m.score_one(40.0, t) > 0.99


def test_ewma_chart_catches_a_small_sustained_shift_that_single_points_hide():
    rng = random.Random(4)
    m = EwmaChart(EwmaParams(direction="up", lam=0.2))
    base = [(float(i), 10.0 + rng.gauss(0, 1)) for i in range(300)]
    shifted = [(300.0 + i, 11.5 + rng.gauss(0, 1)) for i in range(40)]
    scores = run(m, base + shifted)
    assert max(scores[50:300]) < 0.5
    assert max(scores[300:]) > 0.5


def test_changepoint_finds_a_level_shift_but_not_a_lone_spike():
    rng = random.Random(5)
    m = ChangePoint(ChangePointParams(direction="up"))
    series = [(float(i), 100.0 + rng.gauss(0, 2)) for i in range(300)]
    series[150] = (150.0, 500.0)
    series += [(300.0 + i, 106.0 + rng.gauss(0, 2)) for i in range(60)]
    scores = run(m, series)
    assert max(scores[40:300]) < 0.5, "one spike is not a change of level"
    assert max(scores[300:]) > 0.5


def test_changepoint_finds_a_slow_drift():
    rng = random.Random(6)
    m = ChangePoint(ChangePointParams(direction="up"))
    series = [(float(i), 1000.0 + rng.gauss(0, 20)) for i in range(300)]
    series += [(300.0 + i, 1000.0 + 2.0 * i + rng.gauss(0, 20)) for i in range(200)]
    scores = run(m, series)
    assert max(scores[40:300]) < 0.5
    assert max(scores[300:]) > 0.5


def test_halfspace_flags_an_unusual_combination_of_metrics():
    rng = random.Random(7)
    m = HalfSpaceScorer(HalfSpaceParams(window_size=100))
    for i in range(1500):
        calls = 20.0 + rng.gauss(0, 2)
        m.learn_one([calls, calls * 1000.0 + rng.gauss(0, 500)], float(i))
    usual = m.score_one([21.0, 21000.0], 1500.0)
    odd = m.score_one([20.0, 80000.0], 1500.0)
    assert usual < 0.5 < odd


def test_new_value_scores_only_values_never_seen():
    m = NewValue()
    m.learn_one({"us-east-1", "us-west-2"}, 0.0)
    assert m.score_one({"us-west-2"}, 1.0) == 0.0
    assert m.score_one({"us-west-2", "ap-southeast-1"}, 1.0) == 1.0
    assert m.describe({"ap-southeast-1"}, 1.0)["new_values"] == ["ap-southeast-1"]


def test_absence_is_quiet_at_night_and_loud_when_a_busy_team_stops():
    rng = random.Random(8)
    m = Absence(AbsenceParams(step=STEP))
    for i in range(12 * 24 * 8):
        t = MONDAY + i * STEP
        m.learn_one(float(round(office_load(t, rng) / 5)), t)
    tuesday = MONDAY + 8 * 86400
    assert m.score_one(0.0, tuesday + 3 * HOUR) < 0.1
    assert m.score_one(0.0, tuesday + 3 * HOUR + 3 * STEP) < 0.1
    for k in range(12):
        m.learn_one(0.0, tuesday + 11 * HOUR + k * STEP)
    assert m.score_one(0.0, tuesday + 12 * HOUR) > 0.5, "an hour of silence at 11am"


def test_budget_scores_a_projection_over_budget():
    m = BudgetBurn(BudgetParams(budget=100.0, period="day", step=HOUR, min_history=2 * HOUR))
    day = MONDAY
    for h in range(6):
        m.learn_one(1.0, day + h * HOUR)
    assert m.score_one(1.0, day + 6 * HOUR) < 0.05, "24/day projected against 100"
    for h in range(6, 10):
        m.learn_one(20.0, day + h * HOUR)
    assert m.score_one(20.0, day + 10 * HOUR) > 0.9, "20/hour will blow the budget"
    m.learn_one(1.0, day + 86400.0)
    assert m.describe(1.0, day + 86400.0 + HOUR)["spent"] == pytest.approx(2.0)


FACTORIES = {
    "seasonal": lambda: SeasonalBaseline(SeasonalParams(step=STEP)),
    "ewma": lambda: EwmaChart(),
    "changepoint": lambda: ChangePoint(),
    "absence": lambda: Absence(),
    "budget": lambda: BudgetBurn(BudgetParams(budget=50.0, min_history=0.0)),
}
values = st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("kind", sorted(FACTORIES))
@settings(max_examples=25, deadline=None)
@given(xs=st.lists(values, min_size=1, max_size=60))
def test_scores_stay_in_unit_interval_for_any_stream(kind, xs):
    m = FACTORIES[kind]()
    for i, x in enumerate(xs):
        s = m.score_one(x, MONDAY + i * STEP)
        assert 0.0 <= s <= 1.0 and not math.isnan(s)
        m.learn_one(x, MONDAY + i * STEP)


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_a_pickled_model_scores_exactly_like_the_original(kind):
    rng = random.Random(9)
    m = FACTORIES[kind]()
    for i in range(400):
        m.learn_one(abs(rng.gauss(10, 3)), MONDAY + i * STEP)
    copy = pickle.loads(pickle.dumps(m))
    for i in range(400, 450):
        x = abs(rng.gauss(10, 3))
        t = MONDAY + i * STEP
        assert copy.score_one(x, t) == m.score_one(x, t)
        m.learn_one(x, t)
        copy.learn_one(x, t)


def hourly_job(rng: random.Random, n: int, spike: float = 60.0) -> list[tuple[float, float]]:
    """A host at 30% CPU with a job at the top of every hour (a cron), 5-minute points."""
    return [
        (MONDAY + i * STEP, 30.0 + rng.gauss(0, 1) + (spike if i % 12 == 0 else 0.0))
        for i in range(n)
    ]


def test_a_spike_that_recurs_every_hour_is_learned_as_normal_and_a_bigger_one_is_not():
    rng = random.Random(11)
    m = SeasonalBaseline(SeasonalParams(direction="both", step=STEP))
    scores = run(m, hourly_job(rng, 12 * 24 * 14))
    day_seven_on = scores[12 * 24 * 7 :]
    assert max(day_seven_on) < 0.5, "the hourly job is part of normal after a week"
    t = MONDAY + 12 * 24 * 14 * STEP + 5 * STEP
    assert m.score_one(30.0 + 5 * 60.0, t) > 0.9, "a spike five times the job's is not"


def test_an_hourly_job_does_not_trip_the_ewma_chart_but_a_lasting_rise_does():
    rng = random.Random(11)
    m = EwmaChart(EwmaParams(direction="both"))
    scores = run(m, hourly_job(rng, 12 * 24 * 14))
    assert max(scores[12 * 24 * 7 :]) < 0.5, "the hourly job is part of normal after a week"
    t0 = MONDAY + 12 * 24 * 14 * STEP
    risen = run(m, [(t0 + (i + 1) * STEP, 90.0 + rng.gauss(0, 1)) for i in range(6)])
    assert max(risen) > 0.5, "the job's load lasting half an hour is a shift"


def test_seasonal_follows_a_level_that_moves_between_weeks_within_a_day():
    """A warm spell lifts a room's temperature for days: the hour-of-week profile is a week
    behind, the level offset is not, so the alarm is the change itself, not a week of it."""
    rng = random.Random(12)
    m = SeasonalBaseline(SeasonalParams(direction="both", step=HOUR))
    daily = [(i * HOUR, 70.0 + 3.0 * math.sin(i / 24 * 2 * math.pi)) for i in range(24 * 21)]
    warm = [(t + 24 * 21 * HOUR, x + 4.0) for t, x in daily[: 24 * 7]]
    scores = run(m, [(t, x + rng.gauss(0, 0.3)) for t, x in daily + warm])
    warm_scores = scores[24 * 21 :]
    assert max(warm_scores[:6]) > 0.5, "the step itself is a change worth a look"
    assert max(warm_scores[48:]) < 0.5, "two days on, the new level is expected"


def test_seasonal_learns_a_nightly_job_within_a_week_and_still_flags_a_bigger_one():
    """A backup at 03:10 every night is one point in 288: too rare for the overall tail, but
    the usual largest residual of the 03:00 hour knows it."""
    rng = random.Random(13)
    m = SeasonalBaseline(SeasonalParams(direction="both", step=STEP))
    series = [
        (MONDAY + i * STEP, 0.1 + abs(rng.gauss(0, 0.01)) + (1.5 if i % 288 == 38 else 0.0))
        for i in range(288 * 21)
    ]
    scores = run(m, series)
    nightly = [s for i, s in enumerate(scores) if i % 288 == 38]
    assert max(nightly[7:]) < 0.5, "after a week the nightly job is expected"
    t = MONDAY + 288 * 21 * STEP + 38 * STEP
    assert m.score_one(0.1 + 6.0, t) > 0.5, "four times the usual job is not"
    assert m.score_one(1.6, t + 6 * HOUR) > 0.9, "nor is the job's load at another hour"


@pytest.mark.parametrize(
    ("make", "added"),
    [
        (lambda: EwmaChart(EwmaParams()), ("escale", "tail")),
        (lambda: ChangePoint(ChangePointParams()), ("c0", "c1", "prev")),
    ],
)
def test_a_model_saved_before_its_newer_fields_existed_loads_and_scores(make, added):
    """Incident state survives restarts in snapshots: one written by an earlier version
    (without the fields added since) must load, and score, not raise."""
    m = make()
    for i in range(100):
        m.learn_one(10.0 + i % 3, float(i))
    _, slots = m.__reduce_ex__(2)[2]
    old = type(m).__new__(type(m))
    old.__setstate__((None, {k: v for k, v in slots.items() if k not in added}))
    assert 0.0 <= old.score_one(11.0, 100.0) <= 1.0
    old.learn_one(11.0, 100.0)


def test_an_absence_model_saved_before_it_knew_when_days_end_loads_and_scores():
    m = Absence(AbsenceParams(step=STEP))
    for i in range(300):
        m.learn_one(float(i % 7), MONDAY + i * STEP)
    # As it was saved before the end-of-day fields: the sums, then the first eight scalars.
    s = m.stats
    scalars = [s.run_hazard, s.run_windows, s.anomalous, s.points, s.first_hour]
    scalars += [s.day_start, s.day_start_at, s.flagged_at]
    old = Absence.__new__(Absence)
    sums = array("f", m.cells[: 4 * 168])  # the four sums per hour it kept then
    old.__setstate__((sums + array("f", scalars), m.p))
    t = MONDAY + 300 * STEP
    assert old.stats.points == 300 and old.stats.day == -1.0  # kept, and started fresh
    assert 0.0 <= old.score_one(0.0, t) <= 1.0
    old.learn_one(0.0, t)
    assert old.cells.tobytes() != m.cells.tobytes()  # it learned
    assert len(old.cells) == len(m.cells)
