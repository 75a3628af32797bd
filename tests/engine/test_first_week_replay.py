"""An organisation's first week, replayed with the defaults as a user would: first seen on a
Saturday, teams in three time zones that start on Monday, history written one session after
another (sorted by session start, not by time). What happens in it:

- one person's agent walks through a dozen repositories of other teams in an hour;
- a team goes silent for two and a half hours in the middle of its third working day;
- the weekday teams use models the weekend never showed.

The first two are one incident each; the models are no news."""

from __future__ import annotations

import random

import orjson
import pytest

from engine.timeutil import parse_time
from tests.replay_cli import replay_opened_at

SATURDAY = parse_time("2025-11-01T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
WEDNESDAY = SATURDAY + 4 * DAY
MODELS = ["anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-opus-4-1-20250805-v1:0"]
WEEKEND_MODEL = "anthropic.claude-haiku-4-5-20251001-v1:0"
# team: (people, UTC offset in hours, working hours local, repositories)
TEAMS = {
    "payments": (8, 5.5, (9, 18), ["pay-api", "pay-web", "pay-ledger", "pay-infra"]),
    "ledger": (6, -5.0, (9, 17), ["led-core", "led-ui", "led-batch"]),
    "maps": (5, 1.0, (8, 17), ["maps-tiles", "maps-geo", "maps-ui", "maps-search"]),
    "platform": (4, 0.0, (10, 18), [f"plat-{i}" for i in range(10)]),
}
SILENT = ("payments", WEDNESDAY + 6 * HOUR, WEDNESDAY + 8.5 * HOUR)
SPRAWL_USER, SPRAWL_AT = "ledger1", WEDNESDAY + 15 * HOUR
SPRAWL_REPOS = [f"plat-{i}" for i in range(7)] + ["maps-tiles", "maps-geo", "maps-ui"]


def call(t: float, user: str, team: str, repo: str, session: str, model: str) -> dict:
    return {"time": round(t, 3), "name": "claude.invoke", "user": user, "team": team,
            "repo": repo, "session": session, "model": model, "region": "us-east-1",
            "status": "ok", "tokens_in": 1200, "tokens_out": 300, "cost": 0.02,
            "latency_ms": 2500.0}  # fmt: skip


def session(rng: random.Random, t: float, minutes: float, user: str, team: str, repo: str,
            model: str) -> list[dict]:  # fmt: skip
    sid = f"{user}-{int(t)}"
    out, end = [], t + minutes * MINUTE
    while t < end:
        out.append(call(t, user, team, repo, sid, model))
        t += rng.uniform(1, 3) * MINUTE
    return out


def silenced(team: str, t: float) -> bool:
    return team == SILENT[0] and SILENT[1] - 40 * MINUTE <= t < SILENT[2]


def organisation() -> list[list[dict]]:
    """Sessions, each a list of calls."""
    rng = random.Random(11)
    sessions = []
    for team, (people, offset, (begin, end), repos) in TEAMS.items():
        for p in range(people):
            user = f"{team}{p}"
            home = rng.sample(repos, min(2, len(repos)))
            for day in range(2, 5):  # Monday to Wednesday
                t = SATURDAY + day * DAY + (begin - offset) * HOUR + rng.uniform(0, 40) * MINUTE
                stop = SATURDAY + day * DAY + (end - offset) * HOUR
                while t < stop:
                    minutes = rng.uniform(20, 60)
                    if not silenced(team, t) and not silenced(team, t + minutes * MINUTE):
                        model = rng.choice(MODELS)
                        sessions.append(session(rng, t, minutes, user, team,
                                                rng.choice(home), model))  # fmt: skip
                    t += (minutes + rng.uniform(5, 25)) * MINUTE
    for day in range(2):  # one person of ledger works on the weekend, on one model
        t = SATURDAY + day * DAY + 15 * HOUR
        for k in range(6):
            sessions.append(session(rng, t + k * HOUR, 30, "ledger5", "ledger", "led-core",
                                    WEEKEND_MODEL))  # fmt: skip
    t = SPRAWL_AT
    for repo in SPRAWL_REPOS:  # the agent's walk: a few calls in each repository
        sessions.append(session(rng, t, 4, SPRAWL_USER, "ledger", repo, MODELS[0]))
        t += 6 * MINUTE
    return sorted(sessions, key=lambda s: s[0]["time"])


@pytest.fixture(scope="module")
def opened(tmp_path_factory) -> list[tuple[float, dict]]:
    lines = (orjson.dumps(e) for s in organisation() for e in s)  # one session after another
    return replay_opened_at(tmp_path_factory.mktemp("first-week"), lines)


def test_one_persons_walk_through_other_teams_repositories_is_one_incident(opened):
    sprawl = [(at, i["group"]) for at, i in opened if i["rule_id"] == "repos-new-to-user"]
    assert [g for _, g in sprawl] == [{"user": SPRAWL_USER}]
    assert SPRAWL_AT < sprawl[0][0] <= SPRAWL_AT + 2 * HOUR


def test_a_team_silent_on_its_third_working_day_is_noticed_while_silent(opened):
    silent = [(at, i["group"]) for at, i in opened if i["rule_id"] == "team-silent"]
    assert [g for _, g in silent] == [{"team": "payments"}]
    assert SILENT[1] < silent[0][0] <= SILENT[2]


def test_models_first_used_on_the_first_monday_are_no_news(opened):
    assert not [i for _, i in opened if i["rule_id"] == "new-model-per-team"]
