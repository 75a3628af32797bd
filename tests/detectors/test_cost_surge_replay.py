"""A person's cost surge out of the box: OTLP histories replayed with the defaults as a user would.

Eighteen people in three teams (UTC-7, UTC+1, UTC+5:30) work a week of weekdays in light
sessions; one person of the UTC+5:30 team runs a long-context session of about $90 an hour
every afternoon (heavy, but steady). On Thursday a light person of the UTC-7 team runs the
expensive model with long answers for two hours (ten times their usual spend), in an afternoon
that crosses UTC midnight; the same day a person who has worked one short session all week
surges too. The history is either Claude Code's own events (every value a string, cost in
`cost_usd`) or the wrapper's spans (`cost_estimate`), sent in five-minute batches out of time
order within a batch. Each surge opens one cost-per-user incident before it ends; the heavy
steady person opens none once the organisation has seen two working days.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from engine.timeutil import parse_time
from tests.otlp_batches import attributes, team_batches
from tests.replay_cli import replay_opened_at

MONDAY = parse_time("2026-03-02T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
TEAMS = {"field": -7.0, "core": 1.0, "apps": 5.5}  # team: UTC offset in hours
HEAVY = "apps0@example.org"
SURGING = "field3@example.org"  # light, settled, in the UTC-7 team
THIN = "thin@example.org"  # one short session on Monday, then the surge
SURGE_START = MONDAY + 3 * DAY + (17 + 7) * HOUR  # Thursday 17:00 local (UTC-7)
THIN_START = MONDAY + 3 * DAY + 9 * HOUR  # Thursday 10:00 local (UTC+1)
SURGE_HOURS = 2.0
SETTLED = MONDAY + 2 * DAY  # from the organisation's third working day


def session(rng: random.Random, start: float, minutes: float, per_call: float) -> list:
    """(time, cost, output tokens) of one session's calls: a call every 40-120 s."""
    out, t = [], start
    while t < start + minutes * MINUTE:
        cost = per_call * rng.uniform(0.3, 1.7)
        out.append((t, cost, int(cost * rng.uniform(3000, 6000))))
        t += rng.uniform(40, 120)
    return out


def calls() -> list[tuple[str, str, str, list]]:
    """(user, team, model, session calls) for the whole week."""
    rng = random.Random(11)
    sonnet, opus = "claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805"
    out = []
    for team, offset in TEAMS.items():
        for p in range(6):
            user = f"{team}{p}@example.org"
            for day in range(5):
                day_start = MONDAY + day * DAY - offset * HOUR
                if user == HEAVY:
                    start = day_start + rng.uniform(13, 14) * HOUR
                    out.append((user, team, opus, session(rng, start, 180, 2.2)))
                for _ in range(rng.randint(1, 3)):
                    start = day_start + rng.uniform(8, 17) * HOUR
                    out.append((user, team, sonnet, session(rng, start, rng.uniform(10, 60), 0.1)))
    out.append((THIN, "core", sonnet, session(rng, MONDAY + 10 * HOUR, 20, 0.1)))
    for user, team, start in ((SURGING, "field", SURGE_START), (THIN, "core", THIN_START)):
        out.append((user, team, opus, session(rng, start, SURGE_HOURS * 60, 1.0)))
    return out


def log_record(user: str, sid: str, model: str, t: float, cost: float, out: int) -> tuple:
    """A Claude Code `api_request` event: every attribute a string, as Claude Code sends it."""
    attrs = {"event.name": "api_request", "event.timestamp": f"{t:.3f}", "session.id": sid,
             "user.email": user, "model": model, "cost_usd": f"{cost:.6f}",
             "input_tokens": "1200", "output_tokens": str(out), "cache_read_tokens": "40000",
             "cache_creation_tokens": "0", "duration_ms": "9000"}  # fmt: skip
    record = {"timeUnixNano": str(int(t * 1e9)), "body": {"stringValue": "claude_code.api_request"},
              "attributes": attributes(attrs)}  # fmt: skip
    return t, record


def span(
    n: int, user: str, team: str, sid: str, model: str, t: float, cost: float, out: int
) -> tuple:
    """The wrapper's `n`th `claude.invoke` span (n > 0), with the cost it estimated."""
    end = int(t * 1e9)
    attrs = {"user": user, "team": team, "session.id": sid, "model": f"us.anthropic.{model}-v1:0",
             "region": "us-west-2", "tokens_in": 41200, "tokens_out": out, "cost_estimate": cost}  # fmt: skip
    body = {"traceId": f"{n:032x}", "spanId": f"{n:016x}",
            "name": "claude.invoke", "kind": 3, "startTimeUnixNano": str(end - 9_000_000_000),
            "endTimeUnixNano": str(end), "attributes": attributes(attrs), "status": {"code": 1}}  # fmt: skip
    return t, body


def history(style: str) -> list[bytes]:
    """The week as OTLP/JSON lines: per team and five-minute batch, one request whose records
    are shuffled; the batches in time order."""
    ids = itertools.count(1)
    items = []
    for n, (user, team, model, session_calls) in enumerate(calls()):
        sid = f"s{n}"
        for t, cost, out in session_calls:
            if style == "logs":
                item = log_record(user, sid, model, t, cost, out)
            else:
                item = span(next(ids), user, team, sid, model, t, cost, out)
            items.append((t, team, item[1]))
    return team_batches(style, items, random.Random(3))


@pytest.mark.parametrize("style", ["logs", "spans"])
def test_surges_open_one_incident_each_and_a_heavy_steady_person_none(tmp_path: Path, style):
    opened = [
        (t, i)
        for t, i in replay_opened_at(tmp_path, history(style))
        if i["rule_id"] == "cost-per-user"
    ]
    users = [i["group"]["user"] for t, i in opened if t >= SETTLED]
    assert sorted(users) == sorted([SURGING, THIN]), opened
    for user, start in ((SURGING, SURGE_START), (THIN, THIN_START)):
        [(at, incident)] = [(t, i) for t, i in opened if i["group"]["user"] == user]
        assert start < at <= start + SURGE_HOURS * HOUR
        [sample] = incident["evidence"]["samples"]
        assert sample["data"]["value"] >= sample["data"]["bar"]
    [thin] = [i for t, i in opened if i["group"]["user"] == THIN]
    # judged against its one short session, not as a newcomer
    assert thin["evidence"]["samples"][0]["data"]["own_max"] > 0.0
