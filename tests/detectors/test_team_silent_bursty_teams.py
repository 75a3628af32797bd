"""A team that works in bursts has ordinary lulls of most of an hour in its busy hours (a
stand-up, a demo, everyone in the same review); with the defaults, replayed as a user would,
those lulls are no silence, while another team's silence of two and a half hours is.

The organisation is unlike the simulator's: teams eight hours east of UTC whose days straddle
no UTC midnight, first seen on a Tuesday, people who work in sessions of uneven lengths, and
team-wide lulls of 50 to 60 minutes at random hours of some working days."""

from __future__ import annotations

import random

import orjson
import pytest

from engine.timeutil import parse_time
from tests.replay_cli import replay_opened

TUESDAY = parse_time("2025-03-04T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
OFFSET = 8.0  # hours east of UTC
BEGIN, END = 9.0, 19.0  # local working hours
TEAMS = {"atlas": 12, "kiln": 8}  # people
WORKING_DAYS = (0, 1, 2, 3, 6)  # Tuesday to Friday, and the next Monday
LULL_DAYS = {"atlas": (1, 3, 6), "kiln": (2,)}  # days of a team-wide lull
SILENCE = ("kiln", TUESDAY + 3 * DAY + (13.0 - OFFSET) * HOUR, 2.5 * HOUR)  # Friday 13:00 local


def lulls(rng: random.Random) -> dict[tuple[str, int], list[tuple[float, float]]]:
    """Per team and working day: a team-wide lull of 50-60 minutes on some days."""
    out: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for team, days in LULL_DAYS.items():
        for day in WORKING_DAYS:
            start = TUESDAY + day * DAY + (BEGIN - OFFSET) * HOUR
            h = rng.uniform(1.5, END - BEGIN - 2.0)
            length = rng.uniform(50, 60) * MINUTE
            out[team, day] = [(start + h * HOUR, start + h * HOUR + length)] if day in days else []
    return out


def events() -> list[dict]:
    rng = random.Random(5)
    quiet = lulls(rng)
    team, silent_from, length = SILENCE
    quiet[team, 3].append((silent_from, silent_from + length))
    out = []
    for name, people in TEAMS.items():
        for p in range(people):
            for day in WORKING_DAYS:
                t = TUESDAY + day * DAY + (BEGIN - OFFSET) * HOUR + rng.uniform(0, 30) * MINUTE
                stop = TUESDAY + day * DAY + (END - OFFSET) * HOUR
                while t < stop:
                    end = t + rng.expovariate(1 / 35.0) * MINUTE
                    while t < min(end, stop):
                        if not any(a <= t < b for a, b in quiet[name, day]):
                            out.append(call(t, f"{name}-{p}@example.org", name))
                        t += rng.uniform(0.5, 4.0) * MINUTE
                    t += rng.uniform(2, 12) * MINUTE
    return sorted(out, key=lambda e: e["time"])


def call(t: float, user: str, team: str) -> dict:
    return {"time": round(t, 3), "name": "claude.invoke", "user": user, "team": team,
            "repo": f"{team}-svc", "session": f"{user}-{int(t // 3600)}",
            "model": "anthropic.claude-sonnet-4-5-20250929-v1:0", "region": "ap-southeast-1",
            "status": "ok", "tokens_in": 900, "tokens_out": 250, "cost": 0.01,
            "latency_ms": 1800.0}  # fmt: skip


@pytest.fixture(scope="module")
def silent(tmp_path_factory) -> list[tuple[float, str]]:
    opened = replay_opened(tmp_path_factory.mktemp("bursty-teams"), map(orjson.dumps, events()))
    return [
        (parse_time(i["first_seen"]), i["group"]["team"])
        for i in opened
        if i["rule_id"] == "team-silent"
    ]


def test_a_bursty_teams_ordinary_lulls_open_no_silence(silent):
    assert [team for _, team in silent if team != SILENCE[0]] == []


def test_a_silence_of_two_and_a_half_hours_is_raised_while_it_lasts(silent):
    team, start, length = SILENCE
    assert [team for _, team in silent] == [team]
    assert start < silent[0][0] < start + length
