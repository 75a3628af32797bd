"""A team's prompt-cache hit ratio counts the calls that could read the cache: successful calls
to Claude models. Neither a failed call (it reads nothing) nor a call to another provider's
model (no Claude prompt cache) is a miss of the team's cache.

An organisation of three teams of four people (UTC+1), two days of work; every call reads the
cache but a session's first. On the second day, in the evening when only one person of `dune`
is at work, that person's calls fail for forty minutes (an expired credential: the team's
calls then, none reading the cache); one person of `elm`, the last of the team at work, spends
an hour of the evening on a Llama model; and `fen`'s cache stops working for two hours (every call writes
its prompt again). Only `fen` is the cache's incident.

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
OFFSET = 1.0  # hours east of UTC
TEAMS = ("dune", "elm", "fen")
CLAUDE, LLAMA = "claude-sonnet-4-5-20250929", "meta.llama3-3-70b-instruct-v1:0"
FAILING_FROM, OTHER_MODEL_FROM, BROKEN_FROM = 19.0, 17.5, 10.5  # second day, local hours


def at(day: int, hour: float) -> float:
    return MONDAY + day * DAY + (hour - OFFSET) * HOUR


def call(t: float, user: str, team: str, session: str, hit: bool, **over: object) -> dict:
    return {"time": round(t, 3), "name": "claude.invoke", "status": "ok", "user": user,
            "team": team, "session": session, "model": CLAUDE, "region": "eu-west-1",
            "cache_hit": hit, "tokens_in": 6000, "tokens_out": 300, "latency_ms": 3000.0,
            "cost": 0.01, **over}  # fmt: skip


def during(day: int, t: float, start: float, hours: float) -> bool:
    return day == 1 and at(1, start) <= t < at(1, start + hours)


def person(rng: random.Random, team: str, p: int, day: int) -> list[dict]:
    """One person's working day: sessions of calls a minute or two apart."""
    user, out = f"{team}{p}@corp.example", []
    t = at(day, 8.0) + rng.uniform(0, 5) * MINUTE
    late = {("dune", 0): 20.0, ("elm", 1): 19.0}.get((team, p), 17.0) if day == 1 else 17.0
    end = at(day, late)
    session, calls = 0, 0
    while t < end:
        if calls == 0 or rng.random() < 0.08:
            session, calls = session + 1, 0
        ses, hit = f"{user}-{day}-{session}", calls > 0
        if (team, p) == ("dune", 0) and during(day, t, FAILING_FROM, 40 / 60):
            out.append(call(t, user, team, ses, False, status="error", tokens_out=0, cost=0.0))
        elif (team, p) == ("elm", 1) and during(day, t, OTHER_MODEL_FROM, 1.0):
            out.append(call(t, user, team, ses, False, model=LLAMA))
        else:
            broken = team == "fen" and during(day, t, BROKEN_FROM, 2.0)
            out.append(call(t, user, team, ses, hit and not broken))
        calls += 1
        t += rng.uniform(20.0, 60.0) if t >= at(day, 17.0) else rng.uniform(30.0, 120.0)
    return out


def events(seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = [
        e for team in TEAMS for p in range(4) for day in range(2) for e in person(rng, team, p, day)
    ]
    out.sort(key=lambda e: e["time"])
    return out


@pytest.fixture(scope="module", params=[3, 11])
def opened(request, tmp_path_factory) -> list[tuple[float, dict]]:
    tmp = tmp_path_factory.mktemp("cache-cacheable-calls")
    return replay_default_detector(tmp, DETECTOR, events(request.param))


def test_only_the_broken_cache_is_the_caches_incident(opened):
    assert [i["group"] for _, i in opened] == [{"team": "fen"}]
    [(t, _)] = opened
    assert at(1, BROKEN_FROM) <= t <= at(1, BROKEN_FROM + 2.0)


def test_the_failing_person_and_the_other_model_are_their_teams_calls_then():
    """The exclusion is what keeps them quiet: counted as misses, they would be the ratio."""
    evs = events(3)
    dune = [e for e in evs if e["team"] == "dune" and during(1, e["time"], FAILING_FROM, 40 / 60)]
    elm = [e for e in evs if e["team"] == "elm" and during(1, e["time"], OTHER_MODEL_FROM, 1.0)]
    assert len(dune) >= 30 and all(e["status"] == "error" for e in dune)
    assert len(elm) >= 20 and all(e["model"] == LLAMA for e in elm)
