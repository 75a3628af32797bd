"""A whole team's prompts creeping up, replayed as a user would with `tokens-per-call-creep` on.

The team at UTC+9 (four people) and one at UTC-3 (three) work in sessions whose context grows
from call to call, some three times longer than others, on two models; the history's lines come
one session after another (not in time order). On the third day, from 11:00 in Tokyo, every
member of the UTC+9 team sees their context creep up threefold over three hours. Incidents open
for that team's people alone, carrying their team, the first within hours of the creep's start.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import orjson

from tests.detectors.test_token_creep_replay import MINUTE, MODELS, MONDAY, creep_on
from tests.replay_cli import replay_opened_at

DAY, HOUR = 86400.0, 3600.0
TEAMS = {"kaiun": (4, 9.0), "plaza": (3, -3.0)}  # team: (people, UTC offset in hours)
CREEP_START = MONDAY + 2 * DAY + (11 - 9.0) * HOUR  # 11:00 in Tokyo on the third day
CREEP_RAMP = 3 * HOUR


def creep(team: str, t: float) -> float:
    if team != "kaiun" or t < CREEP_START:
        return 1.0
    return 1.0 + 2.0 * min(1.0, (t - CREEP_START) / CREEP_RAMP)


def session(rng: random.Random, user: str, team: str, t: float, base: float) -> list[dict]:
    calls = rng.choice((10, 15, 45))
    model, sid, out = rng.choice(MODELS), f"{user}-{int(t)}", []
    for i in range(calls):
        tokens = base * math.exp(0.1 * i + rng.gauss(0.0, 0.3)) * creep(team, t)
        out.append({"time": round(t, 3), "name": "claude.invoke", "user": user, "team": team,
                    "repo": f"{team}/svc", "session": sid, "model": model, "region": "ap-northeast-1",
                    "status": "ok", "tokens_in": int(tokens), "tokens_out": 300,
                    "cost": 0.01, "latency_ms": 800.0})  # fmt: skip
        t += rng.uniform(0.5, 3.0) * MINUTE
    return out


def sessions() -> list[list[dict]]:
    rng = random.Random(29)
    out = []
    for team, (people, offset) in TEAMS.items():
        for p in range(people):
            user, base = f"{team}{p}@example.jp", math.exp(rng.uniform(7.0, 9.0))
            for day in range(4):
                t = MONDAY + day * DAY + (9 - offset) * HOUR + rng.uniform(0, 30) * MINUTE
                while t < MONDAY + day * DAY + (18 - offset) * HOUR:
                    calls = session(rng, user, team, t, base)
                    out.append(calls)
                    t = calls[-1]["time"] + rng.uniform(5, 20) * MINUTE
    return out


def test_a_team_creeping_in_tokyo_opens_incidents_for_its_people_alone(tmp_path: Path):
    lines = [orjson.dumps(e) for s in sessions() for e in s]  # one session after another
    opened = replay_opened_at(tmp_path, lines, "--config", str(creep_on(tmp_path)))
    tokens = [(at, i) for at, i in opened if "token" in i["rule_id"]]
    assert {i["group"].get("team") for _at, i in tokens} == {"kaiun"}, tokens
    assert len({i["group"].get("user") for _at, i in tokens}) >= 2, tokens
    first = min(at for at, _i in tokens)
    assert CREEP_START < first <= CREEP_START + 4 * HOUR, (first - CREEP_START) / HOUR
