"""A team's prompt cache breaking in the first hours of a history is found: the team, seen
before the organisation's hit ratio was learned, takes that ratio as its baseline once it is,
rather than learning the collapse as its own normal.

The organisation is unlike the simulator's: three hours west of UTC (Sao Paulo), four teams
of four people, each call reading the prompt cache but a session's first. One team has only
one person at work for the history's first two and a half hours (too few calls for a window
of its own), the rest joining at half past ten; fifteen minutes later its cache stops
working for two and a half hours: none of its calls read the cache. The team has a handful
of windows of its own by then; the organisation's ratio is long learned.

Replayed as a user would, with the default entry of cache-hit-ratio-per-team as a
configuration file gives it (a `detectors:` list replaces the default set).
"""

from __future__ import annotations

import random

import pytest

from engine.timeutil import parse_time
from tests.replay_cli import replay_default_detector

DETECTOR = "cache-hit-ratio-per-team"
MONDAY = parse_time("2025-11-03T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
OFFSET = -3.0  # hours east of UTC
TEAMS = ("anchor", "bluff", "cove", "delta")
BROKEN, BROKEN_FROM, BROKEN_FOR = "cove", 10.75, 2.5 * HOUR
JOINING = 10.5  # when the rest of the broken team starts its first day


def at(day: int, hour: float) -> float:
    return MONDAY + day * DAY + (hour - OFFSET) * HOUR


def events(seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for team in TEAMS:
        for p in range(4):
            user = f"{team}{p}@corp.example"
            for day in range(2):
                t = at(day, 8.0) + rng.uniform(0, 5) * MINUTE
                if team == BROKEN and p > 0 and day == 0:
                    t = at(day, JOINING) + rng.uniform(0, 5) * MINUTE
                session, calls = 0, 0
                while t < at(day, 17.0):
                    if calls == 0 or rng.random() < 0.08:
                        session, calls = session + 1, 0
                    broken = (
                        team == BROKEN and at(0, BROKEN_FROM) <= t < at(0, BROKEN_FROM) + BROKEN_FOR
                    )
                    out.append({"time": round(t, 3), "name": "claude.invoke", "status": "ok",
                                "user": user, "team": team, "session": f"{user}-{day}-{session}",
                                "model": "claude-sonnet-4-5-20250929", "region": "sa-east-1",
                                "cache_hit": calls > 0 and not broken,
                                "tokens_in": rng.randint(2000, 9000), "tokens_out": 300,
                                "latency_ms": 3000.0, "cost": 0.01})  # fmt: skip
                    calls += 1
                    t += rng.uniform(30.0, 120.0)
    out.sort(key=lambda e: e["time"])
    return out


@pytest.fixture(scope="module", params=[4, 7])
def opened(request, tmp_path_factory) -> list[tuple[float, dict]]:
    tmp = tmp_path_factory.mktemp("cache-first-hours")
    return replay_default_detector(tmp, DETECTOR, events(request.param))


def test_the_collapse_in_the_first_hours_is_the_teams_incident(opened):
    [(t, incident)] = opened
    assert incident["group"] == {"team": BROKEN}
    assert at(0, BROKEN_FROM) <= t <= at(0, BROKEN_FROM) + BROKEN_FOR
