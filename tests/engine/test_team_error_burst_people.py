"""A team's error burst pages as critical when the team fails, not when one of its people
does. Replayed as a user would, with the defaults: one person whose calls all fail for twenty
minutes (an expired credential of their own, a retry loop) opens incidents about that person
only (never a critical for their team, nor for the model, region or repository they call),
while three people of another team failing together opens the team's critical within five
minutes.

The organisation is unlike the simulator's: teams five hours west of UTC, first seen on a
Wednesday, people who work in sessions of uneven lengths with their own cadence, calls to two
regions, and a team lead who makes most of a small team's calls."""

from __future__ import annotations

import random

import orjson
import pytest

from engine.timeutil import parse_time
from tests.replay_cli import replay_opened

WEDNESDAY = parse_time("2025-06-04T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
OFFSET = -5.0  # hours east of UTC
BEGIN, END = 8.5, 18.0  # local working hours
TEAMS = {"orbit": 6, "quarry": 5, "tundra": 7}  # people
WORKING_DAYS = (0, 1, 2, 5, 6)  # Wednesday to Friday, then Monday and Tuesday
ONE = ("orbit", 0, WORKING_DAYS[3], 11.25)  # orbit's busiest person, Monday 11:15 local
TEAM = ("tundra", (0, 3, 4), WORKING_DAYS[4], 14.5)  # three of tundra, its lead among them
LENGTH = 20 * MINUTE


def at(day: int, hour: float) -> float:
    return WEDNESDAY + day * DAY + (hour - OFFSET) * HOUR


def failing(team: str, person: int, t: float) -> float:
    """The chance a call fails: 1 for the one person during their burst, 0.9 for the three
    during the team's, a background rate otherwise."""
    name, who, day, hour = ONE
    if team == name and person == who and at(day, hour) <= t < at(day, hour) + LENGTH:
        return 1.0
    name, people, day, hour = TEAM
    if team == name and person in people and at(day, hour) <= t < at(day, hour) + LENGTH:
        return 0.9
    return 0.01


def events() -> list[dict]:
    rng = random.Random(17)
    out = []
    for team, people in TEAMS.items():
        for p in range(people):
            gap = (0.4, 2.0) if p == 0 else (1.0, 6.0)  # the first person is the busiest
            for day in WORKING_DAYS:
                t = at(day, BEGIN) + rng.uniform(0, 40) * MINUTE
                while t < at(day, END):
                    end = t + rng.expovariate(1 / 50.0) * MINUTE
                    while t < min(end, at(day, END)):
                        ok = rng.random() >= failing(team, p, t)
                        out.append(call(t, team, p, ok, rng))
                        t += rng.uniform(*gap) * MINUTE
                    t += rng.uniform(3, 25) * MINUTE
    return sorted(out, key=lambda e: e["time"])


def call(t: float, team: str, person: int, ok: bool, rng: random.Random) -> dict:
    user = f"{team}.{person}@corp.example"
    return {"time": round(t, 3), "name": "claude.invoke", "user": user, "team": team,
            "repo": f"{team}-{person % 2}", "session": f"{user}-{int(t // 3600)}",
            "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "region": rng.choice(("us-east-1", "us-west-2")), "status": "ok" if ok else "error",
            "tokens_in": 1200, "tokens_out": 300, "cost": 0.012,
            "latency_ms": 2100.0 if ok else 300.0}  # fmt: skip


@pytest.fixture(scope="module")
def opened(tmp_path_factory) -> list[dict]:
    return replay_opened(tmp_path_factory.mktemp("team-burst"), map(orjson.dumps, events()))


def critical_for_team(opened: list[dict], team: str) -> list[tuple[float, str]]:
    return [
        (parse_time(i["first_seen"]), i["rule_id"])
        for i in opened
        if i["severity"] == "critical" and i["group"].get("team") == team
    ]


def test_one_persons_failures_page_no_team_critical(opened):
    name, who, day, hour = ONE
    user = f"{name}.{who}@corp.example"
    start = at(day, hour)
    about_them = [
        i for i in opened
        if start - 5 * MINUTE <= parse_time(i["first_seen"]) <= start + LENGTH + 30 * MINUTE
        and i["group"].get("user") == user
    ]  # fmt: skip
    assert about_them, "the person's own burst is an incident"
    assert critical_for_team(opened, name) == []
    groups_paged = [
        (i["rule_id"], i["group"]) for i in opened
        if i["severity"] == "critical" and "user" not in i["group"]
        and start - 5 * MINUTE <= parse_time(i["first_seen"]) <= start + LENGTH + 30 * MINUTE
    ]  # fmt: skip
    assert groups_paged == [], "nor is it the model's, the region's or the repository's"


def test_three_people_of_a_team_failing_page_the_team_within_five_minutes(opened):
    name, _, day, hour = TEAM
    start = at(day, hour)
    pages = [(t, r) for t, r in critical_for_team(opened, name) if t >= start - 5 * MINUTE]
    assert pages, "the team's burst pages"
    assert min(t for t, _ in pages) - start <= 5 * MINUTE
