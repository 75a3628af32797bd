"""Sparse keys (a person who works in sessions) and silent keys (a team that stops): what is
ordinary for them must not alert, and what is not must."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import DetectorsConfig, DetectorSet, Signal
from detectors.absence import Absence, AbsenceParams
from detectors.seasonal import SeasonalBaseline, SeasonalParams
from detectors.weekly import (
    CELLS,
    align_day_start,
    cell_of,
    is_weekend,
    quietest_hour,
    same_type_cells,
)

MONDAY = 1793577600.0  # 2026-11-02T00:00:00Z
HOUR = 3600.0
STEP = 300.0
WINDOWS_PER_DAY = 288


def test_a_persons_idle_hours_do_not_make_an_ordinary_session_a_spike():
    """Active in one window of ten at a steady level: a session at that level at any hour is
    ordinary, ten times that level is a spike."""
    rng = random.Random(3)
    m = SeasonalBaseline(SeasonalParams(direction="up", step=STEP, noise="compound"))
    for i in range(WINDOWS_PER_DAY * 10):
        t = MONDAY + i * STEP
        active = rng.random() < 0.1 and 8 <= (i % WINDOWS_PER_DAY) / 12 < 18
        events = rng.randint(8, 16) if active else 0
        m.learn_one(events * 0.05, t, events)
    evening = MONDAY + 10 * 86400 + 21 * HOUR  # an hour at which this person never works
    assert m.score_one(0.8, evening, 16) < 0.2
    assert m.score_one(12.0, evening, 240) > 0.9


def test_a_key_that_never_worked_still_sees_its_first_burst_as_a_spike():
    m = SeasonalBaseline(SeasonalParams(direction="up", step=STEP, noise="poisson"))
    for i in range(500):
        m.learn_one(0.0, MONDAY + i * STEP)
    assert m.score_one(40.0, MONDAY + 500 * STEP) > 0.99


def office(team_size: int, rng: random.Random, t: float, offset_h: float = 0.0) -> float:
    """Events in a window: each member works in sessions during local weekday office hours."""
    local = t + offset_h * HOUR
    hour = (local % 86400) / HOUR
    weekday = int(((local - MONDAY) // 86400) % 7) < 5
    if not (weekday and 9 <= hour < 17):
        return 0.0
    return float(sum(rng.randint(3, 9) for _ in range(team_size) if rng.random() < 0.35))


def learn_days(m: Absence, days: int, size: int, offset_h: float = 0.0, seed: int = 1) -> None:
    rng = random.Random(seed)
    for i in range(WINDOWS_PER_DAY * days):
        t = MONDAY + i * STEP
        m.learn_one(office(size, rng, t, offset_h), t)


def silence_scores(m: Absence, start: float, windows: int) -> list[float]:
    scores = []
    for k in range(windows):
        t = start + k * STEP
        scores.append(m.score_one(0.0, t))
        m.learn_one(0.0, t)
    return scores


def test_a_big_team_that_stops_is_noticed_but_a_small_teams_lull_is_not():
    big, small = Absence(AbsenceParams()), Absence(AbsenceParams())
    learn_days(big, 8, size=20)
    learn_days(small, 8, size=1)
    tuesday_11 = MONDAY + 8 * 86400 + 11 * HOUR
    assert max(silence_scores(big, tuesday_11, 12)) > 0.5, "an hour of silence from 20 people"
    assert max(silence_scores(small, tuesday_11, 12)) < 0.5, "one person's hour off is ordinary"


def test_nights_and_weekends_are_never_silences():
    m = Absence(AbsenceParams())
    learn_days(m, 14, size=20)
    saturday = MONDAY + 12 * 86400
    assert max(silence_scores(m, saturday, WINDOWS_PER_DAY * 2)) < 0.1
    tuesday_night = MONDAY + 15 * 86400 + 18 * HOUR
    assert max(silence_scores(m, tuesday_night, 12 * 14)) < 0.1


def test_weekends_are_taken_in_the_teams_own_time_zone():
    """A team in UTC-8 works on Friday until 01:00 UTC on Saturday; a week later, Sunday at
    01:00 UTC is its Saturday afternoon, not a working hour."""
    m = Absence(AbsenceParams())
    learn_days(m, 6, size=20, offset_h=-8.0)  # Monday to Saturday (UTC) of the first week
    sunday_0030 = MONDAY + 6 * 86400 + 0.5 * HOUR
    assert max(silence_scores(m, sunday_0030, 36)) < 0.1


def test_a_new_key_of_a_warming_parent_warms_up_with_it():
    """A user first seen a few hours after the team starts from the team's history, so a
    runaway session the next morning is flagged although the user is less than a day old."""
    ds = DetectorSet.from_config(
        DetectorsConfig.model_validate(
            {
                "detectors": [
                    {
                        "id": "cost",
                        "kind": "seasonal",
                        "aggregation": "sum",
                        "field": "cost",
                        "group_by": ["user"],
                        "parent_by": ["team"],
                        "params": {"direction": "up", "z": 10},
                        "interval": "15m",
                    }
                ]
            }
        )
    )
    state = ds.new_state("cost")
    rng = random.Random(5)
    events = []
    for day in range(2):
        for minute in range(8 * 60, 18 * 60, 2):
            t = MONDAY + day * 86400 + minute * 60
            for user in ("ann", "bob", "cid"):
                if rng.random() < 0.3:
                    events.append({"time": t, "user": user, "team": "web", "cost": 0.05})
            dee_works = day == 1 or minute >= 10 * 60  # first seen on Monday at 10:00
            runaway_hour = day == 1 and 10 * 60 <= minute < 11 * 60
            if dee_works and not runaway_hour and rng.random() < 0.3:
                events.append({"time": t, "user": "dee", "team": "web", "cost": 0.05})
    runaway = MONDAY + 86400 + 10 * HOUR
    events += [
        {"time": runaway + s, "user": "dee", "team": "web", "cost": 0.5} for s in range(0, 3600, 5)
    ]
    signals: list[Signal] = []
    for ev in sorted(events, key=lambda e: e["time"]):
        for obs in ds.route(ev):
            signals += state.update(obs)
        signals += state.advance(ev["time"] - 60)
    opened = [s for s in signals if s.firing and s.group == {"user": "dee"}]
    assert opened and runaway < opened[0].time <= runaway + 1800
    assert not [s for s in signals if s.firing and s.group != {"user": "dee"}]


@settings(max_examples=50, deadline=None)
@given(cell=st.integers(0, CELLS - 1), day_start=st.integers(0, 23))
def test_hours_alike_are_the_same_hour_on_days_of_the_same_type(cell, day_start):
    alike = same_type_cells(cell, day_start)
    assert cell in alike
    assert all(c % 24 == cell % 24 for c in alike)
    assert len(alike) in (2, 5)
    other = set(range(cell % 24, CELLS, 24)) - set(alike)
    assert len(alike) + len(other) == 7
    assert all(same_type_cells(c, day_start) == tuple(sorted(other)) for c in other)


def test_the_day_begins_in_the_middle_of_the_nights_quiet_hours():
    pacific = [1.0 if (h >= 17 or h < 2) else 0.0 for h in range(24)]  # 09:00-18:00 UTC-8
    assert quietest_hour(pacific) == 9
    assert quietest_hour([1.0] * 24) == 0
    assert cell_of(MONDAY) == 0 and cell_of(MONDAY + 7 * 86400 - 1) == CELLS - 1


def test_an_anomalous_silence_is_learned_as_censored_up_to_where_it_was_flagged():
    """Leaving long silences out altogether would teach that silences are always short."""
    from detectors.absence import Absence, AbsenceParams

    hour = 3600.0
    m = Absence(AbsenceParams(step=hour))
    day0 = 7 * 24 * 4  # a Monday 00:00 UTC (epoch day 4 was a Monday): whole weeks follow
    for i in range(24 * 14):
        m.learn_one(40.0 if 8 <= i % 24 < 18 else 0.0, (day0 + i) * hour)
    monday = day0 + 24 * 14
    before = {h: m.hazard((monday + 7 * 24 + h) * hour) for h in (9, 10, 16)}
    for h in range(9, 17):  # silent from 09:00 to 16:00 on a working day: flagged early on
        m.learn_one(0.0, (monday + h) * hour)
    assert m.score_one(0.0, (monday + 16) * hour) > 0.5
    m.learn_one(40.0, (monday + 17) * hour)  # it ends
    after = {h: m.hazard((monday + 7 * 24 + h) * hour) for h in (9, 10, 16)}
    assert after[10] < before[10]  # its first windows count as empty windows that did not resume
    assert after[16] == before[16]  # nothing after the flag is taught, nor its resumption


def _silence_after_17h(days_working_late: int) -> float:
    """Highest score of an early finish (silent 17:00-21:00) after days of working until 21:00."""
    from detectors.absence import Absence, AbsenceParams

    step, day0 = 300.0, 7 * 24 * 4 * 3600.0  # 5-minute windows from a Monday 00:00 UTC
    m = Absence(AbsenceParams(step=step))
    for d in range(days_working_late):
        for w in range(288):
            m.learn_one(5.0 if 9 <= w / 12 < 21 else 0.0, day0 + d * 86400 + w * step)
    worst = 0.0
    for w in range(288):
        t, h = day0 + days_working_late * 86400 + w * step, w / 12
        x = 5.0 if 9 <= h < 17 else 0.0
        if 17 <= h < 21:
            worst = max(worst, m.score_one(x, t))
        m.learn_one(x, t)
    return worst


def test_one_late_evening_does_not_make_the_evening_an_hour_the_team_must_be_active():
    assert _silence_after_17h(1) < 0.5
    assert _silence_after_17h(5) > 0.5  # a working week of late evenings does


def test_a_key_east_of_utc_has_its_weekend_in_its_own_days():
    tokyo = 16 - 24  # quietest at 16:00 UTC, one in the morning there, the evening before
    saturday_morning_there = cell_of(MONDAY + 4 * 86400 + 23 * 3600)  # Friday 23:00 UTC
    monday_morning_there = cell_of(MONDAY + 6 * 86400 + 22 * 3600)  # Sunday 22:00 UTC
    assert is_weekend(saturday_morning_there, tokyo)
    assert not is_weekend(monday_morning_there, tokyo)
    assert not is_weekend(cell_of(MONDAY + 4 * 86400 + 10 * 3600), tokyo)  # Friday 19:00 there
    assert set(same_type_cells(saturday_morning_there, tokyo)) == {23 + 24 * d for d in (4, 5)}


@pytest.mark.parametrize(
    ("offset", "aligned"), [(9, 16 - 24), (-8, 9), (-12, 13), (11, 14 - 24), (0, 1), (5, 20 - 24)]
)
def test_which_utc_day_a_key_starts_its_days_is_read_from_its_quiet_weekend(offset, aligned):
    # a team working 09:00-18:00 local on weekdays: its quietest hour is 01:00 local
    share: list[float | None] = [0.0] * CELLS
    for cell in range(CELLS):
        local = cell + offset
        day, hour = (local // 24) % 7, local % 24
        share[cell] = 1.0 if day < 5 and 9 <= hour < 18 else 0.0
    quiet = (1 - offset) % 24
    assert align_day_start(quiet, share) == aligned
    # by the first Sunday, the stretch from Friday's quiet hour already tells
    to_sunday = [s if cell < 6 * 24 else None for cell, s in enumerate(share)]
    assert align_day_start(quiet, to_sunday) == aligned
    # with only the first four days seen, the hour decides: from 14:00 UTC, the day before
    first_days = [s if cell < 4 * 24 else None for cell, s in enumerate(share)]
    assert align_day_start(quiet, first_days) == (quiet - 24 if quiet >= 14 else quiet)
