"""One person's failures, named by the error-rate slices, are that person's incident at a
person's severity (medium, as error-rate-per-user), not a critical page: replayed with the
defaults, as a user would. The person drives an agent that calls every few seconds, so their
own slice has the calls to depart on; their credential expires and every call fails for
twenty-five minutes while the rest of their team works normally.

The organisation is unlike the simulator's: teams nine hours east of UTC, first seen on a
Saturday and working through the weekend, two models, a region per team, and one person
making most of their team's calls."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest
import yaml

from engine.timeutil import parse_time
from tests.replay_cli import replay_opened

DEFAULTS = Path(__file__).resolve().parents[2] / "detectors" / "defaults.yml"
SATURDAY = parse_time("2025-03-01T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
OFFSET = 9.0  # hours east of UTC
TEAMS = {"kiln": ("ap-northeast-1", 4), "marsh": ("ap-northeast-3", 6), "spire": ("us-west-2", 5)}
AGENT = "kiln.0@corp.example"  # the busy one, whose credential expires
BURST = (4, 13.75)  # day, local hour
LENGTH = 25 * MINUTE
MODELS = ("anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-haiku-4-5-20251001-v1:0")


def at(day: int, hour: float) -> float:
    return SATURDAY + day * DAY + (hour - OFFSET) * HOUR


def events() -> list[dict]:
    rng = random.Random(41)
    out = []
    start, stop = at(*BURST), at(*BURST) + LENGTH
    for team, (region, people) in TEAMS.items():
        for p in range(people):
            user = f"{team}.{p}@corp.example"
            gap = (4.0, 20.0) if user == AGENT else (40.0, 300.0)  # seconds
            for day in range(5):
                t = at(day, 9.0) + rng.uniform(0, 60) * MINUTE
                while t < at(day, 19.0):
                    ok = not (user == AGENT and start <= t < stop) and rng.random() >= 0.01
                    out.append(call(t, team, user, region, ok, rng))
                    t += rng.uniform(*gap)
                    if rng.random() < 0.01:
                        t += rng.uniform(10, 60) * MINUTE  # a break
    return sorted(out, key=lambda e: e["time"])


def call(t: float, team: str, user: str, region: str, ok: bool, rng: random.Random) -> dict:
    return {"time": round(t, 3), "name": "claude.invoke", "user": user, "team": team,
            "repo": f"{team}-app", "session": f"{user}-{int(t // 3600)}",
            "model": rng.choice(MODELS), "region": region, "status": "ok" if ok else "error",
            "tokens_in": rng.randint(800, 3000), "tokens_out": rng.randint(100, 600),
            "cost": 0.01, "latency_ms": rng.uniform(1500, 4000) if ok else 250.0}  # fmt: skip


@pytest.fixture(scope="module")
def opened(tmp_path_factory) -> list[dict]:
    return replay_opened(tmp_path_factory.mktemp("person-slice"), map(orjson.dumps, events()))


@pytest.fixture(scope="module")
def opened_with_others_z(tmp_path_factory) -> list[dict]:
    """The defaults with error-rate-per-team's `others_z: 3`, as a configuration file sets it
    (a `detectors:` list replaces the default set, so it is the default list, one entry
    changed)."""
    tmp = tmp_path_factory.mktemp("person-slice-others-z")
    spec = yaml.safe_load(DEFAULTS.read_text())
    for entry in spec["detectors"]:
        if entry["id"] == "error-rate-per-team":
            entry["params"]["others_z"] = 3
    config = tmp / "spanwatch.yml"
    config.write_text(yaml.safe_dump({"detectors": spec["detectors"]}))
    return replay_opened(tmp, map(orjson.dumps, events()), "--config", str(config))


def during_burst(opened: list[dict]) -> list[dict]:
    start = at(*BURST)
    return [
        i for i in opened
        if start - 5 * MINUTE <= parse_time(i["first_seen"]) <= start + LENGTH + 30 * MINUTE
    ]  # fmt: skip


def test_a_persons_failures_named_by_the_slices_are_medium(opened):
    during = during_burst(opened)
    named = [(i["group"], i["severity"]) for i in during if i["rule_id"] == "slices-error-rate"]
    assert named == [({"user": AGENT}, "medium")]
    # the slices page no one; by default error-rate-per-team counts a colleague's usual failed
    # call as a second person (the test below turns `others_z` on)
    critical = {(i["rule_id"], str(i["group"])) for i in during if i["severity"] == "critical"}
    assert critical <= {("error-rate-per-team", str({"team": "kiln"}))}


def test_with_others_z_a_colleagues_usual_failure_makes_no_team_page(opened_with_others_z):
    during = during_burst(opened_with_others_z)
    named = [(i["group"], i["severity"]) for i in during if i["rule_id"] == "slices-error-rate"]
    assert named == [({"user": AGENT}, "medium")]
    assert [(i["rule_id"], i["group"]) for i in during if i["severity"] == "critical"] == []
