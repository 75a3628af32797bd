"""Latency out of the box on answers that grow longer: replayed with the defaults as a user would.

Three teams in three time zones call two models in two regions, their events written in
batches of a few minutes, out of time order within a batch. On the fourth day one team asks for
whole files all afternoon (answers five to ten times longer, so each call takes that much
longer), and later one model slows down in one region for two hours (every call three times
slower, whatever its length). The slowdown is one incident, for that model and region; the
long answers are none, for any team, person, model or repository.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import orjson

from engine.timeutil import parse_time
from tests.replay_cli import replay_opened

MONDAY = parse_time("2026-02-02T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
MODELS = [
    ("anthropic.claude-sonnet-4-5-20250929-v1:0", "eu-central-1", 4.0, 300.0),
    ("anthropic.claude-haiku-4-5-20251001-v1:0", "eu-west-1", 1.5, 150.0),
]
# team: (people, UTC offset in hours, repositories)
TEAMS = {"docs": (4, 1.0, ["docs/site", "docs/api"]), "core": (5, -3.0, ["core/engine"]),
         "apps": (4, 5.5, ["apps/web", "apps/ios"])}  # fmt: skip
LONG = ("docs", MONDAY + 3 * DAY + 12 * HOUR, MONDAY + 3 * DAY + 16 * HOUR)
SLOW = (MODELS[1][:2], MONDAY + 3 * DAY + 17 * HOUR, MONDAY + 3 * DAY + 19 * HOUR)


def call(rng: random.Random, t: float, user: str, team: str, repo: str) -> dict:
    model, region, per_token, overhead = rng.choice(MODELS)
    tokens = int(math.exp(rng.uniform(4.5, 6.0)))
    if team == LONG[0] and LONG[1] <= t < LONG[2]:
        tokens = rng.randint(5, 10) * tokens
    slow = 3.0 if (model, region) == SLOW[0] and SLOW[1] <= t < SLOW[2] else 1.0
    ms = (overhead + per_token * tokens) * math.exp(rng.gauss(0.0, 0.3)) * slow
    return {"time": round(t, 3), "name": "claude.invoke", "user": user, "team": team,
            "repo": repo, "session": f"{user}-{int(t // HOUR)}", "model": model,
            "region": region, "status": "ok", "tokens_in": 2000, "tokens_out": tokens,
            "cost": 0.01, "latency_ms": round(ms, 1)}  # fmt: skip


def history() -> list[dict]:
    rng = random.Random(23)
    events = []
    for team, (people, offset, repos) in TEAMS.items():
        for p in range(people):
            for day in range(4):
                t = MONDAY + day * DAY + (8 - offset) * HOUR + rng.uniform(0, 60) * MINUTE
                while t < MONDAY + day * DAY + (19 - offset) * HOUR:
                    events.append(call(rng, t, f"{team}{p}", team, rng.choice(repos)))
                    t += rng.uniform(1, 6) * MINUTE
    events.sort(key=lambda e: e["time"])
    batches: dict[int, list[dict]] = {}
    for e in events:  # a collector's batches of five minutes, shuffled within
        batches.setdefault(int(e["time"] // (5 * MINUTE)), []).append(e)
    out = []
    for batch in batches.values():
        rng.shuffle(batch)
        out += batch
    return out


def test_long_answers_open_nothing_and_a_slowdown_opens_one_incident(tmp_path: Path):
    opened = replay_opened(tmp_path, map(orjson.dumps, history()))
    latency = [i for i in opened if "latency" in i["rule_id"] or "atency" in i["title"]]
    assert [(i["rule_id"], i["group"].get("region")) for i in latency] == [
        ("latency-per-model-region", SLOW[0][1])
    ], latency
    assert SLOW[1] < parse_time(latency[0]["first_seen"]) <= SLOW[1] + HOUR
