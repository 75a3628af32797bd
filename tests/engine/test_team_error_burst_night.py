"""A small team's error burst at night, when one of its people is the only one at work, pages
the team as critical within five minutes: every call the team makes is failing, and nobody's
calls go through to say it is that person's alone. The person's own error incident, if one
opens, folds into the team's page. Nights of the same people's ordinary failures page
nothing, nor does one person failing by day while their colleagues' calls go through. A failed
call retried (Claude Code's `attempt` 2 and on) is one failed call: a lone person's throttled
call retried three times in ten seconds is not four failures.

Replayed as a user would, with the default detectors but for the team's error burst, which
also counts the people among all the team's calls (the opt-in third metric), and both error-rate
detectors leaving out retried attempts. The organisation is unlike the simulator's: eight
hours west of UTC, first seen on a Thursday, teams of three and four whose members work by day
at their own cadence, a call every half minute to two minutes, and in each team one person who
also works late into the night with an agent, a call every ten to forty seconds."""

from __future__ import annotations

import random

import orjson
import pytest
import yaml

from engine.timeutil import parse_time
from tests.replay_cli import DEFAULT_DETECTORS, replay_rows

THURSDAY = parse_time("2025-09-04T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
OFFSET = -8.0  # hours east of UTC
TEAMS = {"fjord": 3, "mesa": 4, "delta": 4}  # people; person 0 also works nights
DAYS = range(6)
NIGHT = (21.0, 26.0)  # local hours, into the small hours of the next day
BURST = ("fjord", 4, 23.5)  # the only person at work fails 40% of their calls from 23:30
LONE = ("delta", 1, 5, 14.0)  # by day, one person's calls all fail, colleagues' go through
LENGTH = 20 * MINUTE


def at(day: int, hour: float) -> float:
    return THURSDAY + day * DAY + (hour - OFFSET) * HOUR


def failing(team: str, person: int, t: float) -> float:
    name, day, hour = BURST
    if team == name and person == 0 and at(day, hour) <= t < at(day, hour) + LENGTH:
        return 0.4
    name, who, day, hour = LONE
    if team == name and person == who and at(day, hour) <= t < at(day, hour) + LENGTH:
        return 1.0
    return 0.008


def shift(
    rng: random.Random, team: str, p: int, hours: tuple[float, float], day: int, gap: tuple
) -> list:
    """One person's calls over a shift, in sessions with pauses between, `gap` seconds apart."""
    out, t, end = [], at(day, hours[0]) + rng.uniform(0, 30) * MINUTE, at(day, hours[1])
    while t < end:
        stop = t + rng.expovariate(1 / 60.0) * MINUTE
        while t < min(stop, end):
            ok = rng.random() >= failing(team, p, t)
            out.append(call(t, team, p, ok, rng))
            for attempt in range(2, 2 if ok else rng.randint(3, 5)):  # retried, in vain
                out.append({**call(t + 3.0 * attempt, team, p, False, rng), "attempt": attempt})
            t += rng.uniform(*gap)
        t += rng.uniform(3, 20) * MINUTE
    return out


def events() -> list[dict]:
    rng = random.Random(23)
    out = []
    for team, people in TEAMS.items():
        for p in range(people):
            for day in DAYS:
                out += shift(rng, team, p, (9.0, 17.5), day, (30.0, 120.0))
                if p == 0:
                    out += shift(rng, team, p, NIGHT, day, (10.0, 40.0))
    return sorted(out, key=lambda e: e["time"])


def call(t: float, team: str, person: int, ok: bool, rng: random.Random) -> dict:
    user = f"{team}.{person}@corp.example"
    return {"time": round(t, 3), "name": "claude.invoke", "user": user, "team": team,
            "repo": f"{team}-app", "session": f"{user}-{int(t // 3600)}",
            "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "region": "us-west-2", "status": "ok" if ok else "error",
            "tokens_in": 1500, "tokens_out": 400, "cost": 0.015,
            "latency_ms": 2400.0 if ok else 350.0}  # fmt: skip


def detectors() -> list[dict]:
    """The default detectors, the team's error burst watching who calls, retries left out."""
    spec = yaml.safe_load(DEFAULT_DETECTORS.read_text())["detectors"]
    for d in spec:
        if d["id"] == "error-rate-per-team":
            # the third metric, after the failing people and before the routes of `wave_z`
            callers = {"aggregation": "distinct", "field": "user"}
            d["metrics"] = [*d["metrics"][:2], callers, *d["metrics"][2:]]
        if d["id"] in ("error-rate-per-team", "error-rate-per-user"):
            d["exclude"] = {key: list(range(2, 17)) for key in ("attempt", "retry.attempt")}
    return spec


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> tuple[list[dict], set[str]]:
    """The incidents opened, and the ids of those on-call was told of."""
    tmp = tmp_path_factory.mktemp("night-burst")
    notes, config = tmp / "notifications.jsonl", tmp / "spanwatch.yml"
    config.write_text(yaml.safe_dump({"detectors": detectors()}))
    lines = map(orjson.dumps, events())
    rows = replay_rows(tmp, lines, "--notifications", str(notes), "--config", str(config))
    told = {
        i if isinstance(i, str) else i["id"]
        for line in notes.read_bytes().splitlines()
        for i in orjson.loads(line).get("incidents", ())
    }
    return [r["incident"] for r in rows if r["type"] == "incident.opened"], told


@pytest.fixture(scope="module")
def opened(replayed) -> list[dict]:
    return replayed[0]


def critical_for(opened: list[dict], team: str) -> list[float]:
    return [
        parse_time(i["first_seen"])
        for i in opened
        if i["severity"] == "critical" and i["group"].get("team") == team
    ]


def test_the_night_burst_of_the_only_person_at_work_pages_the_team_within_five_minutes(opened):
    name, day, hour = BURST
    start = at(day, hour)
    pages = [t for t in critical_for(opened, name) if start - 5 * MINUTE <= t]
    assert pages, "the team's burst pages"
    assert min(pages) - start <= 5 * MINUTE


def test_the_persons_own_error_incident_folds_into_the_teams_page(replayed):
    """Opened after the team's page, while it fires: logged, and on-call is not told again."""
    opened, told = replayed
    name, day, hour = BURST
    start, user = at(day, hour), f"{name}.0@corp.example"
    team = min(
        i["first_seen"] for i in opened
        if i["rule_id"] == "error-rate-per-team" and i["group"] == {"team": name}
    )  # fmt: skip
    theirs = [
        i for i in opened
        if i["group"].get("user") == user and i["rule_id"] == "error-rate-per-user"
        and start <= parse_time(i["first_seen"]) <= start + LENGTH + 30 * MINUTE
    ]  # fmt: skip
    assert theirs, "the person's own incident opens"
    later = [i for i in theirs if i["first_seen"] >= team]
    assert later and not {i["id"] for i in later} & told


def test_nothing_critical_outside_the_burst(opened):
    _, day, hour = BURST
    start = at(day, hour)
    stray = [
        (i["rule_id"], i["group"], i["first_seen"]) for i in opened
        if i["severity"] == "critical"
        and not start - 5 * MINUTE <= parse_time(i["first_seen"]) <= start + LENGTH
    ]  # fmt: skip
    assert stray == [], "ordinary nights and one person failing by day page nothing"


def test_one_persons_failures_by_day_are_their_own_incident(opened):
    name, who, day, hour = LONE
    start, user = at(day, hour), f"{name}.{who}@corp.example"
    theirs = [
        i for i in opened
        if i["group"].get("user") == user
        and start - 5 * MINUTE <= parse_time(i["first_seen"]) <= start + LENGTH + 30 * MINUTE
    ]  # fmt: skip
    assert theirs, "the person's own burst is an incident"
    assert critical_for(opened, name) == []
