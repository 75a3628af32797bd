"""The absence model's sense of what makes a silence plausible: the team's day may be over,
long lulls are likelier the longer a silence already is, and little history is little
certainty. A busy team's multi-hour silence in the middle of its day must still alert."""

from __future__ import annotations

import ctypes
import math
import pickle
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.absence import Absence, AbsenceParams
from detectors.day_rate import GRID

MONDAY = 1793577600.0  # 2026-11-02T00:00:00Z
HOUR = 3600.0
STEP = 300.0
DAY = 86400.0


def working_day(m: Absence, day: int, end_h: float, rng: random.Random) -> None:
    """A busy team from 09:00 to `end_h` (UTC)."""
    for w in range(288):
        t, h = MONDAY + day * DAY + w * STEP, w / 12
        x = float(rng.randint(5, 30)) if 9 <= h < end_h and rng.random() < 0.9 else 0.0
        m.learn_one(x, t)


def worst_score(m: Absence, day: int, start_h: float, hours: float) -> float:
    """Highest score over a silence from `start_h` lasting `hours`, learning as it goes."""
    worst = 0.0
    for k in range(int(hours * 12)):
        t = MONDAY + day * DAY + start_h * HOUR + k * STEP
        worst = max(worst, m.score_one(0.0, t))
        m.learn_one(0.0, t)
    return worst


def team_with_varied_day_ends(seed: int = 4) -> tuple[Absence, random.Random]:
    rng = random.Random(seed)
    m = Absence(AbsenceParams())
    for day, end in enumerate((19.0, 20.0, 18.5)):  # Monday to Wednesday
        working_day(m, day, end, rng)
    return m, rng


def test_an_end_of_day_a_little_earlier_than_usual_is_not_a_silence():
    m, rng = team_with_varied_day_ends()
    for w in range(17 * 12 + 6):  # Thursday until 17:30, an hour before its earliest end
        t, h = MONDAY + 3 * DAY + w * STEP, w / 12
        m.learn_one(float(rng.randint(5, 30)) if h >= 9 and rng.random() < 0.9 else 0.0, t)
    assert worst_score(m, 3, 17.5, 4.0) < 0.5
    assert m.describe(0.0, MONDAY + 3 * DAY + 18 * HOUR)["day_over_probability"] > 0.001


def test_a_busy_teams_silence_in_the_middle_of_its_day_still_alerts_within_the_hour_and_a_half():
    m, rng = team_with_varied_day_ends()
    for w in range(11 * 12):  # Thursday until 11:00, then silence for three hours
        t, h = MONDAY + 3 * DAY + w * STEP, w / 12
        m.learn_one(float(rng.randint(5, 30)) if h >= 9 and rng.random() < 0.9 else 0.0, t)
    scores = [worst_score(m, 3, 11.0 + k / 12, 1 / 12) for k in range(36)]
    assert max(scores[:18]) > 0.5, "alerted within 90 minutes"
    assert m.describe(0.0, MONDAY + 3 * DAY + 12 * HOUR)["day_over_probability"] < 1e-6


def test_a_lull_that_resumes_after_an_hour_alerts_only_once_history_backs_the_expectation():
    """One day of history is little certainty: the same hour-long lull that is surprising
    after a fortnight of busy days is not after one."""

    def lull_score(days: int) -> float:
        rng = random.Random(7)
        m = Absence(AbsenceParams())
        for day in range(days):
            if (day % 7) < 5:
                working_day(m, day, 19.0, rng)
            else:
                working_day(m, day, 0.0, rng)  # weekends off
        monday = days + (-days) % 7
        for day in range(days, monday):
            working_day(m, day, 0.0, rng)
        for w in range(12 * 12):
            t, h = MONDAY + monday * DAY + w * STEP, w / 12
            m.learn_one(float(rng.randint(5, 30)) if h >= 9 and rng.random() < 0.9 else 0.0, t)
        return worst_score(m, monday, 12.0, 1.0)

    assert lull_score(1) < 0.5
    assert lull_score(15) > lull_score(1)


@settings(max_examples=20, deadline=None)
@given(hazard=st.floats(0.01, 500.0), more=st.floats(0.01, 500.0))
def test_surprise_grows_with_the_silence_but_ever_more_slowly(hazard, more):
    """A decreasing hazard: each further unit of expected resumptions adds less surprise."""
    m = Absence(AbsenceParams())
    t = MONDAY + 30 * DAY  # a month after it was first seen (at MONDAY)
    m.learn_one(1.0, MONDAY)
    s1 = m._surprise_of(hazard, math.inf, t)  # the day cannot be over
    s2 = m._surprise_of(hazard + more, math.inf, t)
    assert 0.0 < s1 < s2 < hazard + more
    assert s2 - s1 <= more * s1 / hazard + 1e-9  # concave: below the chord from 0


@settings(max_examples=20, deadline=None)
@given(gap=st.floats(0.1, 200.0), end=st.floats(0.0, 60.0))
def test_a_possible_end_of_day_only_ever_makes_a_silence_less_surprising(gap, end):
    m = Absence(AbsenceParams())
    m.learn_one(1.0, MONDAY)
    t = MONDAY + 10 * DAY
    surely_not_over = m._surprise_of(gap, math.inf, t)
    assert m._surprise_of(gap, end, t) <= surely_not_over + 1e-9
    assert m._surprise_of(gap, end, t) <= end + 1e-9
    assert m._surprise_of(gap, end, t) >= min(end, surely_not_over) - math.log(2.0) - 1e-9


def test_the_state_is_small_float32_sums_and_scalars_that_pickle():
    m, _ = team_with_varied_day_ends()
    assert m.cells.itemsize == 4 and len(m.cells) == 5 * 168  # five sums per hour of the week
    assert ctypes.sizeof(m.stats) == 4 * (23 + GRID)  # today's lulls: a grid of day rates
    copy = pickle.loads(pickle.dumps(m))
    t = MONDAY + 3 * DAY + 12 * HOUR
    assert copy.describe(0.0, t) == m.describe(0.0, t)


def test_a_team_first_seen_in_a_morning_knows_its_day_end_from_its_second_day():
    """Seen first on a Monday morning: Tuesday is its first whole day, so on Wednesday a
    three-hour silence at midday is not explained by the day having ended."""
    rng = random.Random(9)
    m = Absence(AbsenceParams(surprise=9.0))
    for w in range(8 * 12, 288):  # Monday from 08:00
        t, h = MONDAY + w * STEP, w / 12
        m.learn_one(float(rng.randint(5, 30)) if 9 <= h < 18 and rng.random() < 0.9 else 0.0, t)
    working_day(m, 1, 18.0, rng)
    for w in range(11 * 12):  # Wednesday until 11:00
        t, h = MONDAY + 2 * DAY + w * STEP, w / 12
        m.learn_one(float(rng.randint(5, 30)) if h >= 9 and rng.random() < 0.9 else 0.0, t)
    assert m.describe(0.0, MONDAY + 2 * DAY + 11 * HOUR)["day_over_probability"] < 1e-3
    assert worst_score(m, 2, 11.0, 3.0) > 0.5
