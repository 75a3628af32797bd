"""A person's steady surge of spend against ordinary heavy work: the default
cost-surge-per-user entry (off by default) turned on alone, replayed on a week of normalised
events.

Twelve people of one team (UTC) work weekdays 08:00-17:30 in sessions of 20-70 minutes (a
call every 40-120 s, about $0.10 a call); one of them runs a three-hour long-context session
at about $2 a call every afternoon (heavy, but their own habit), and now and then someone's
call costs several times their usual. On Thursday at 15:00 a light person's calls cost ten
times their usual for an hour. That opens one incident within a quarter of an hour; nothing
else opens once the first day is learned.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from engine.timeutil import parse_time
from tests.replay_cli import replay_default_detector

MONDAY = parse_time("2026-05-04T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
HEAVY = "p0@example.org"
SURGING = "p5@example.org"
SURGE_START = MONDAY + 3 * DAY + 15 * HOUR
DETECTOR = "cost-surge-per-user"


def session(rng: random.Random, user: str, span: tuple[float, float], per_call: float) -> list:
    """One session's calls as normalised events (one in fifty costing five times the rest)."""
    events, t = [], span[0]
    while t < span[1]:
        surge = user == SURGING and SURGE_START <= t < SURGE_START + HOUR
        price = per_call * (10.0 if surge else 5.0 if rng.random() < 0.02 else 1.0)
        cost = round(price * rng.uniform(0.3, 1.7), 6)
        events.append({"time": t, "kind": "log", "name": "claude_code.api_request",
                       "session": f"{user}-{span[0]:.0f}", "user": user, "team": "core",
                       "cost": cost})  # fmt: skip
        t += rng.uniform(40, 120)
    return events


def person_week(rng: random.Random, user: str) -> list[dict]:
    events: list[dict] = []
    for day in range(5):
        day_start = MONDAY + day * DAY
        if user == HEAVY:
            events += session(rng, user, (day_start + 13 * HOUR, day_start + 16 * HOUR), 2.0)
        t = day_start + rng.uniform(8, 9) * HOUR
        while t < day_start + 17.5 * HOUR:
            span = (t, t + rng.uniform(20, 70) * MINUTE)
            if user == SURGING and span[0] < SURGE_START + HOUR and span[1] > SURGE_START:
                span = (min(span[0], SURGE_START), SURGE_START + HOUR)
            events += session(rng, user, span, 0.1)
            t = span[1] + rng.uniform(5, 40) * MINUTE
    return events


def week(seed: int) -> list[dict]:
    rng = random.Random(seed)
    events = [e for p in range(12) for e in person_week(rng, f"p{p}@example.org")]
    return sorted(events, key=lambda e: e["time"])


@pytest.mark.parametrize("seed", [1, 2])
def test_a_steady_surge_pages_within_a_quarter_hour_and_heavy_habits_do_not(
    tmp_path: Path, seed: int
) -> None:
    opened = replay_default_detector(tmp_path, DETECTOR, week(seed), turn_on=True)
    settled = [(t, i) for t, i in opened if t >= MONDAY + DAY]
    assert [i["group"] for _, i in settled] == [{"user": SURGING}], opened
    [(at, incident)] = settled
    assert SURGE_START < at <= SURGE_START + 15 * MINUTE
    [sample] = incident["evidence"]["samples"]
    assert sample["data"]["evidence_nats"] >= sample["data"]["bar_nats"]
    assert sample["data"]["multiple"] > 3.0
