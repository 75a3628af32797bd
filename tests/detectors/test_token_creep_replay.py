"""A person's prompts creeping up, replayed as a user would with `tokens-per-call-creep` on.

Two teams, one at UTC+10 and one at UTC-3, work in sessions whose context grows from call to
call (a session's last calls carry several times its first's tokens), some sessions three
times longer than others, on two models. On the third day one person in the UTC+10 team sees
their context creep up threefold over three hours and stay there. That opens token incidents
for that person alone (one per model they use), carrying their team, the first within four
hours of the creep's start (the sessions open at each morning's start are not judged); the
ordinary long sessions of everyone else open none.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import orjson
import yaml

from detectors.config import default_detectors
from engine.timeutil import parse_time
from tests.replay_cli import replay_opened_at

MONDAY = parse_time("2026-03-02T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
MODELS = ("anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-haiku-4-5-20251001-v1:0")
TEAMS = {"harbour": (4, 10.0), "plaza": (3, -3.0)}  # team: (people, UTC offset in hours)
CREEPER = "harbour1"
CREEP_START = MONDAY + 2 * DAY + (11 - 10.0) * HOUR  # 11:00 in the team's own time
CREEP_RAMP = 3 * HOUR


def creep(user: str, t: float) -> float:
    if user != CREEPER or t < CREEP_START:
        return 1.0
    return 1.0 + 2.0 * min(1.0, (t - CREEP_START) / CREEP_RAMP)


def session(rng: random.Random, user: str, team: str, t: float, base: float) -> list[dict]:
    """One session: its context grows by about 0.1 log units a call, from a few thousand."""
    calls = rng.choice((10, 15, 45))  # some sessions three times longer than most
    model = rng.choice(MODELS)
    sid = f"{user}-{int(t)}"
    out = []
    for i in range(calls):
        tokens = base * math.exp(0.1 * i + rng.gauss(0.0, 0.3)) * creep(user, t)
        out.append({"time": round(t, 3), "name": "claude.invoke", "user": user, "team": team,
                    "repo": f"{team}/app", "session": sid, "model": model, "region": "us-east-1",
                    "status": "ok", "tokens_in": int(tokens), "tokens_out": 400,
                    "cost": 0.01, "latency_ms": 900.0})  # fmt: skip
        t += rng.uniform(0.5, 3.0) * MINUTE
    return out


def history() -> list[dict]:
    rng = random.Random(11)
    events = []
    for team, (people, offset) in TEAMS.items():
        for p in range(people):
            user, base = f"{team}{p}", math.exp(rng.uniform(7.0, 9.0))
            for day in range(4):
                t = MONDAY + day * DAY + (9 - offset) * HOUR + rng.uniform(0, 30) * MINUTE
                while t < MONDAY + day * DAY + (18 - offset) * HOUR:
                    calls = session(rng, user, team, t, base)
                    events += calls
                    t = calls[-1]["time"] + rng.uniform(5, 20) * MINUTE
    events.sort(key=lambda e: e["time"])
    return events


def creep_on(tmp: Path) -> Path:
    """A configuration whose detectors are the default creep entry, turned on."""
    (entry,) = [d for d in default_detectors() if d.id == "tokens-per-call-creep"]
    spec = {**entry.model_dump(mode="json", by_alias=True, exclude_unset=True), "enabled": True}
    config = tmp / "spanwatch.yml"
    config.write_text(yaml.safe_dump({"detectors": [spec]}))
    return config


def test_a_persons_creeping_context_pages_for_them_alone_and_long_sessions_never(tmp_path: Path):
    config = creep_on(tmp_path)
    opened = replay_opened_at(tmp_path, map(orjson.dumps, history()), "--config", str(config))
    tokens = [(at, i) for at, i in opened if "token" in i["rule_id"]]
    assert tokens, "the creep opened no token incident"
    assert {(i["group"].get("user"), i["group"].get("team")) for _at, i in tokens} == {
        (CREEPER, "harbour")
    }, tokens
    first = min(at for at, _i in tokens)
    assert CREEP_START < first <= CREEP_START + 4 * HOUR, (first - CREEP_START) / HOUR
