"""A silence under suspicion keeps its evidence: its own empty windows are not learned while it
lasts, and a usual break inside it (lunch) pauses the evidence instead of wiping it. A team
whose days are read from a partly seen first day keeps its weekend where it is."""

from __future__ import annotations

import random

from detectors.absence import Absence, AbsenceParams
from detectors.weekly import CELLS, align_day_start

MONDAY = 1793577600.0  # 2026-11-02T00:00:00Z
HOUR = 3600.0
STEP = 300.0
DAY = 86400.0


def office_with_lunch(h: float, weekday: bool, rng: random.Random) -> float:
    """Twelve people from 08:30 to 17:30 UTC+1 (07:30-16:30 UTC), out for lunch 11:00-12:00."""
    if not weekday or not 7.5 <= h < 16.5:
        return 0.0
    if 11.0 <= h < 12.0:
        return float(rng.random() < 0.03)  # someone eats at the desk now and then
    return float(rng.randint(1, 12)) if rng.random() < 0.85 else 0.0


def team_after(days: int, seed: int) -> tuple[Absence, random.Random]:
    rng = random.Random(seed)
    m = Absence(AbsenceParams(surprise=9.0))
    for w in range(days * 288):
        t = MONDAY + w * STEP
        m.learn_one(office_with_lunch(w % 288 / 12, (w // 288) % 7 < 5, rng), t)
    return m, rng


def day_scores(m: Absence, rng: random.Random, day: int, silent: tuple[float, float]) -> list:
    """Scores of one working day, silent between the two hours (UTC), learning as it goes."""
    scores = []
    for w in range(288):
        t, h = MONDAY + day * DAY + w * STEP, w / 12
        x = 0.0 if silent[0] <= h < silent[1] else office_with_lunch(h, True, rng)
        scores.append((h, m.score_one(x, t)))
        m.learn_one(x, t)
    return scores


def test_a_silence_through_the_lunch_break_is_found_but_lunch_itself_never_is():
    for seed in (1, 2, 3):
        m, rng = team_after(8, seed)  # Monday to the next Monday: Tuesday is the 9th day
        silent = day_scores(m, rng, 8, (10.25, 12.75))  # 2.5 h from mid-morning past lunch
        assert max(s for h, s in silent if 10.25 <= h < 12.75) > 0.5, f"seed {seed}"
        ordinary = day_scores(m, rng, 9, (0.0, 0.0))
        assert max(s for _, s in ordinary) < 0.5, f"seed {seed}: an ordinary day"


def test_a_silence_is_not_learned_while_it_is_under_suspicion():
    m, _ = team_after(8, 4)
    start = MONDAY + 8 * DAY + 9 * HOUR
    before = m.describe(0.0, start + 30 * 60)["active_share_at_this_hour"]
    for k in range(8):  # 40 minutes of silence from 09:00: the team is usually busy
        m.learn_one(0.0, start + k * STEP)
    assert m.score_one(0.0, start + 8 * STEP) > 0.0
    assert m.describe(0.0, start + 30 * 60)["active_share_at_this_hour"] == before
    m.learn_one(5.0, start + 8 * STEP)  # it ends: now its empty windows are learned
    assert m.describe(0.0, start + 30 * 60)["active_share_at_this_hour"] < before


def test_a_partly_seen_first_day_does_not_move_the_weekend():
    """First seen on a Thursday at 07:00 UTC, with a short Friday: the Thursday's seen hours
    are its busy ones, so its share says nothing against Friday's whole day, and the team's
    days still start at its quiet hour that UTC day (Sunday stays a Sunday)."""
    share: list[float | None] = [None] * CELLS
    thursday, friday = 3 * 24, 4 * 24
    for h in range(7, 25):  # Thursday 07:00 to Friday 01:00
        share[thursday + h] = 0.9 if h < 21 else 0.0
    for h in range(1, 25):  # Friday, a short day: 08:00-15:00
        share[friday + h] = 0.9 if 8 <= h < 15 else 0.0
    for h in range(1, 13):  # Saturday morning, nobody
        share[(friday + 24 + h) % CELLS] = 0.0
    assert align_day_start(1, share) == 1
