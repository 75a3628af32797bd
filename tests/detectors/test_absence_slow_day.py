"""A team's own day tells how busy it is today: after a long lull this morning (a meeting, few
people in), a silence this afternoon is less surprising than on a day whose lulls were short,
and never more so; a busy morning promises nothing for the afternoon. Today's lulls are
forgotten when the team's next day begins, and survive a snapshot."""

from __future__ import annotations

import math
import pickle
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.absence import Absence, AbsenceParams
from detectors.day_rate import GRID, fold_lull, survival_correction

MONDAY = 1793577600.0  # 2026-11-02T00:00:00Z, a Monday
HOUR, STEP, DAY = 3600.0, 300.0, 86400.0


def busy(rng: random.Random) -> float:
    return float(rng.randint(5, 30)) if rng.random() < 0.9 else 0.0


def team_of_two_weeks(seed: int) -> tuple[Absence, random.Random]:
    """A team busy on working days from 08:00 to 18:00 UTC, for two weeks."""
    rng = random.Random(seed)
    m = Absence(AbsenceParams(surprise=9.0, heterogeneity=7.0))
    for day in range(14):
        for w in range(288):
            h = w / 12
            working = day % 7 < 5 and 8 <= h < 18
            m.learn_one(busy(rng) if working else 0.0, MONDAY + day * DAY + w * STEP)
    return m, rng


def morning(m: Absence, rng: random.Random, lull: tuple[float, float] | None) -> float:
    """The third Monday from 00:00 to 13:00, busy from 08:00 except during `lull`; returns
    the time at which the afternoon silence starts."""
    day = MONDAY + 14 * DAY
    for w in range(13 * 12):
        h = w / 12
        quiet = lull is not None and lull[0] <= h < lull[1]
        m.learn_one(busy(rng) if h >= 8 and not quiet else 0.0, day + w * STEP)
    return day + 13 * HOUR


def surprise_after(m: Absence, start: float, hours: float) -> float:
    t = start
    for _ in range(int(hours * 12)):
        m.learn_one(0.0, t)
        t += STEP
    return m.surprise(0.0, t)


def test_after_a_long_morning_lull_an_afternoon_silence_surprises_less():
    plain, rng = team_of_two_weeks(3)
    slow, _ = team_of_two_weeks(3)
    usual = surprise_after(plain, morning(plain, rng, None), 1.5)
    after_lull = surprise_after(slow, morning(slow, random.Random(3), (9.0, 10.75)), 1.5)
    assert slow.stats.day_lulls >= 1.0 and plain.stats.day_lulls >= 0.0
    assert usual > 5.0  # an hour and a half of silence of a busy team: well on its way
    assert after_lull < usual - 1.0


def test_the_next_day_judges_its_busyness_afresh():
    m, rng = team_of_two_weeks(5)
    morning(m, rng, (9.0, 10.75))
    assert m.stats.day_lulls >= 1.0
    for w in range(11 * 12, 24 * 12 + 7 * 12):  # through the night to Tuesday 07:00
        m.learn_one(0.0, MONDAY + 14 * DAY + w * STEP)
    assert m.stats.day_lulls == 0.0
    assert list(m.stats.day_loglik) == [0.0] * GRID


def test_todays_lulls_survive_a_snapshot():
    m, rng = team_of_two_weeks(7)
    start = morning(m, rng, (9.0, 10.75))
    restored: Absence = pickle.loads(pickle.dumps(m))
    assert bytes(restored.stats) == bytes(m.stats)
    for k in range(36):
        t = start + k * STEP
        assert restored.score_one(0.0, t) == m.score_one(0.0, t)
        m.learn_one(0.0, t)
        restored.learn_one(0.0, t)


def test_a_model_saved_before_todays_lulls_were_kept_loads_with_none():
    m, rng = team_of_two_weeks(8)
    start = morning(m, rng, (9.0, 10.75))
    cells, saved, p = m.__getstate__()
    older = Absence.__new__(Absence)
    older.__setstate__((cells, saved[:80], p))  # the record up to `deferred`
    assert older.stats.day_lulls == 0.0 and older.stats.points == m.stats.points
    assert 0.0 <= older.score_one(0.0, start) <= 1.0


@settings(max_examples=60, deadline=None)
@given(
    lulls=st.lists(st.tuples(st.floats(0.0, 40.0), st.floats(0.0, 5.0)), min_size=1, max_size=6),
    hazard=st.floats(0.01, 200.0),
    shape=st.floats(1.0, 20.0),
)
def test_the_correction_is_a_log_probability_ratio_that_fades_with_the_silence(
    lulls, hazard, shape
):
    """Whatever today's lulls, the silence's probability stays a probability (the corrected
    log-survival is at most 0), and with no lull at all there is nothing to correct."""
    lik = [0.0] * GRID
    assert survival_correction(lik, hazard, shape) == 0.0
    for h, step in lulls:
        fold_lull(lik, h, step)
    corrected = -shape * math.log1p(hazard / shape) + survival_correction(lik, hazard, shape)
    assert math.isfinite(corrected)
    assert corrected <= 0.01  # the grid's error


@settings(max_examples=40, deadline=None)
@given(first=st.floats(0.5, 20.0), more=st.floats(0.5, 20.0), hazard=st.floats(1.0, 60.0))
def test_a_longer_lull_today_never_makes_a_silence_more_surprising(first, more, hazard):
    short, long = [0.0] * GRID, [0.0] * GRID
    fold_lull(short, first, 0.5)
    fold_lull(long, first + more, 0.5)
    assert survival_correction(long, hazard, 7.0) >= survival_correction(short, hazard, 7.0) - 1e-9
