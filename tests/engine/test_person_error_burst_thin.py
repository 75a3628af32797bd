"""One person's calls failing for half an hour is their incident, however few calls they make,
on the first day of a history too; a person's bad afternoon (a tenth of their calls failing
for two hours) is not.

The organisation is unlike the simulator's: seven hours west of UTC (its working day straddles
UTC's midnight), the history starting on a Thursday. Its people: a thin one (a call every
one and a half to three minutes), a busy one (every thirty seconds to two minutes), and three ordinary
ones, one of whom has a bad afternoon: 10% of their calls failing for two hours, one in every
ten in the order they are made, so that it is no unlucky draw. A burst fails three of every
five calls of its person, whoever else is at work, for twenty-five minutes: the thin
person's holds a dozen calls or so, too few for a five-minute window of five calls to say
anything (the chart's `min_count` of old), enough for the likelihood ratio of a burst (half
the calls failing) against what a person's calls ordinarily do (their own rate, or a tenth
failing on a bad day, whichever explains them better). Four failures in seven calls would
not be: a bad afternoon's people make such runs now and then.

Replayed as a user would, with the default entry of error-rate-per-user as a configuration
file gives it (a `detectors:` list replaces the default set).
"""

from __future__ import annotations

import random

import pytest

from engine.timeutil import parse_time
from tests.replay_cli import replay_default_detector

DETECTOR = "error-rate-per-user"
THURSDAY = parse_time("2025-10-02T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
OFFSET = -7.0  # hours east of UTC
# person: seconds between their calls
PEOPLE = {
    "thin": (90.0, 180.0), "busy": (30.0, 120.0), "ana": (60.0, 180.0),
    "bo": (60.0, 180.0), "cy": (60.0, 180.0),
}  # fmt: skip
# person: (day, local hour) of their burst; the first one four hours into the history's day
BURSTS = {"thin": (0, 13.5), "busy": (1, 10.25)}
BAD_AFTERNOON = ("cy", 0, 14.0, 2 * HOUR)
LENGTH = 25 * MINUTE


def at(day: int, hour: float) -> float:
    return THURSDAY + day * DAY + (hour - OFFSET) * HOUR


def events(seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for person, gap in PEOPLE.items():
        user = f"{person}@corp.example"
        for day in range(2):
            t = at(day, 9.0) + rng.uniform(0, 20) * MINUTE
            while t < at(day, 17.5):
                out.append(call(t, user, rng.random() >= 0.005, rng))
                t += rng.uniform(*gap)
    out.sort(key=lambda e: e["time"])
    for person, (day, hour) in BURSTS.items():
        start = at(day, hour)
        theirs = [e for e in out if e["user"].startswith(person + "@")]
        for i, e in enumerate(x for x in theirs if start <= x["time"] < start + LENGTH):
            e["status"] = "error" if i % 5 in (0, 2, 4) else "ok"
    person, day, hour, length = BAD_AFTERNOON
    start = at(day, hour)
    theirs = [e for e in out if e["user"].startswith(person + "@")]
    for i, e in enumerate(x for x in theirs if start <= x["time"] < start + length):
        e["status"] = "error" if i % 10 == 5 else "ok"
    return out


def call(t: float, user: str, ok: bool, rng: random.Random) -> dict:
    return {"time": round(t, 3), "name": "claude.invoke", "user": user, "team": "kestrel",
            "session": f"{user}-{int(t // 3600)}", "region": "us-west-2",
            "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "status": "ok" if ok else "error", "tokens_in": rng.randint(800, 3000),
            "tokens_out": rng.randint(100, 600), "cost": 0.01,
            "latency_ms": rng.uniform(1500, 4000) if ok else 250.0}  # fmt: skip


@pytest.fixture(scope="module", params=[3, 11])
def opened(request, tmp_path_factory) -> list[tuple[float, dict]]:
    tmp = tmp_path_factory.mktemp("person-burst")
    return replay_default_detector(tmp, DETECTOR, events(request.param))


@pytest.mark.parametrize("person", sorted(BURSTS))
def test_a_persons_burst_is_their_incident_while_it_lasts(opened, person):
    start = at(*BURSTS[person])
    theirs = [t for t, i in opened if i["group"] == {"user": f"{person}@corp.example"}]
    assert len(theirs) == 1, theirs
    assert start <= theirs[0] <= start + LENGTH


def test_a_bad_afternoon_is_no_burst(opened):
    person = BAD_AFTERNOON[0]
    assert [i for _, i in opened if i["group"] == {"user": f"{person}@corp.example"}] == []


def test_nobody_else_is_an_incident(opened):
    named = {f"{p}@corp.example" for p in BURSTS}
    assert [i["group"] for _, i in opened if i["group"].get("user") not in named] == []
