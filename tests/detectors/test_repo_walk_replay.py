"""A person's walk through repositories new to them, replayed with the defaults as a user would:
judged while the walk is under way, whatever clock hour it starts in.

The organisation works from two time zones (UTC-7 and UTC+9), its history is written one
person after another (not in time order), and each person keeps to two repositories of their
team. On its third day:

- `walker` visits eight repositories of other teams in 40 minutes, half before and half after
  a clock hour (no clock hour holds five of them);
- `newbie-taker` takes up one repository of another team every 40 minutes all day long.

The walk is one incident, opened within a quarter of an hour of its fifth new repository (the
end of the 15-minute window that holds it); the slow taker is none.
"""

from __future__ import annotations

import random

import orjson
import pytest

from engine.timeutil import parse_time
from tests.replay_cli import replay_opened_at

TUESDAY = parse_time("2026-03-03T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
# team: (people, UTC offset in hours, repositories)
TEAMS = {
    "search": (5, -7.0, [f"search/svc-{i}" for i in range(4)]),
    "billing": (5, 9.0, [f"billing/core-{i}" for i in range(4)]),
    "infra": (4, 9.0, [f"infra/tf-{i}" for i in range(12)]),
}
WALK_AT = TUESDAY + 2 * DAY + 3 * HOUR + 40 * MINUTE  # 12:40 in UTC+9, across 04:00 UTC
WALK = [f"infra/tf-{i}" for i in range(4, 12)]
SLOW = [f"search/svc-{i}" for i in range(4)] + [f"infra/tf-{i}" for i in range(4, 12)]


def call(t: float, user: str, team: str, repo: str) -> dict:
    return {"time": round(t, 3), "name": "claude.invoke", "user": user, "team": team,
            "repo": repo, "session": f"{user}-{int(t // HOUR)}", "status": "ok",
            "model": "anthropic.claude-sonnet-4-5-20250929-v1:0", "region": "ap-northeast-1",
            "tokens_in": 900, "tokens_out": 250, "cost": 0.01, "latency_ms": 2100.0}  # fmt: skip


def person(rng: random.Random, user: str, team: str, offset: float, home: list[str]) -> list:
    """Three working days (09:00-17:00 local) in the person's two repositories."""
    out = []
    for day in range(3):
        t = TUESDAY + day * DAY + (9 - offset) * HOUR + rng.uniform(0, 30) * MINUTE
        stop = TUESDAY + day * DAY + (17 - offset) * HOUR
        while t < stop:
            out.append(call(t, user, team, rng.choice(home)))
            t += rng.uniform(2, 9) * MINUTE
    return out


def organisation() -> list[dict]:
    rng = random.Random(5)
    people = []
    for team, (n, offset, repos) in TEAMS.items():
        for p in range(n):
            people.append(person(rng, f"{team}{p}", team, offset, rng.sample(repos[:4], 2)))
    walker = person(rng, "walker", "billing", 9.0, ["billing/core-0", "billing/core-1"])
    walker += [call(WALK_AT + k * 5 * MINUTE + s * 40, "walker", "billing", repo)
               for k, repo in enumerate(WALK) for s in range(3)]  # fmt: skip
    slow = person(rng, "newbie-taker", "billing", 9.0, ["billing/core-2"])
    start = TUESDAY + 2 * DAY
    slow += [call(start + k * 40 * MINUTE, "newbie-taker", "billing", repo)
             for k, repo in enumerate(SLOW)]  # fmt: skip
    people += [walker, slow]
    rng.shuffle(people)
    return [e for p in people for e in p]  # one person after another


@pytest.fixture(scope="module")
def opened(tmp_path_factory) -> list[tuple[float, dict]]:
    lines = (orjson.dumps(e) for e in organisation())  # one person after another
    return replay_opened_at(tmp_path_factory.mktemp("repo-walk"), lines)


def test_no_clock_hour_holds_five_of_the_walks_repositories():
    """The walk straddles a clock hour: a tumbling hour sees four repositories in each."""
    hours = {}
    for k, repo in enumerate(WALK):
        hours.setdefault(int((WALK_AT + k * 5 * MINUTE) // HOUR), set()).add(repo)
    assert max(len(r) for r in hours.values()) < 5


def test_a_walk_across_a_clock_hour_is_one_incident_by_a_quarter_after_its_fifth_repo(opened):
    walks = [(at, i) for at, i in opened if i["rule_id"] == "repos-new-to-user"]
    assert [i["group"] for _, i in walks] == [{"user": "walker"}]
    at, incident = walks[0]
    fifth = WALK_AT + 4 * 5 * MINUTE
    assert fifth < at <= fifth + 15 * MINUTE
    news = incident["evidence"]["samples"][0]["data"]["new_values"]
    assert len(news) >= 5 and set(news) <= set(WALK)


def test_a_person_taking_up_a_repository_every_forty_minutes_is_no_news(opened):
    assert not [i for _, i in opened if i["group"].get("user") == "newbie-taker"]
