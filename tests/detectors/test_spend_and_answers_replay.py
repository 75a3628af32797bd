"""A person's surge of a few dear calls, out of the box: OTLP histories replayed with the defaults.

Fifteen people in three teams (UTC-7, UTC+1, UTC+5:30) work four weekdays in light sessions
on Sonnet. One person runs a long-context session on Opus every afternoon (calls dear for their
context, answers of ordinary length); another writes long answers on Haiku every morning (long
answers, cheap). On Thursday a light person of the UTC-7 team runs one or two long answers on
Opus every five minutes for an hour, five to ten times their usual hour's spend: few calls, not
many. The history is Claude Code's events (strings, `cost_usd`) or the wrapper's spans
(`cost_estimate`), in five-minute batches shuffled within. The surge opens one
spend-and-answers-per-user incident within 15 minutes of its start; nobody else opens one.
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
CONTEXT = "apps0@example.org"  # dear calls for their context every afternoon
WRITER = "core0@example.org"  # long answers on a cheap model every morning
SURGING = "field3@example.org"
SURGE_START = MONDAY + 3 * DAY + (15 + 7) * HOUR  # Thursday 15:00 local (UTC-7)
SONNET, OPUS, HAIKU = "claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-3-5-haiku"
Call = tuple[float, float, int, int]  # time, cost, input tokens, output tokens


# cost in USD, input and output tokens of a call, by session kind: (low, high) each
KINDS = {
    "light": ((0.02, 0.15), (5_000, 40_000), (150, 900)),
    "context": ((0.8, 2.5), (150_000, 190_000), (200, 900)),
    "writer": ((0.01, 0.04), (2_000, 8_000), (3_000, 6_000)),
    "surge": ((1.3, 4.0), (40_000, 160_000), (3_000, 8_000)),
}


def session(rng: random.Random, start: float, minutes: float, kind: str) -> list[Call]:
    """One session's calls, a call every 40-120 s (`surge`: one or two every five minutes)."""
    (c0, c1), (i0, i1), (o0, o1) = KINDS[kind]
    out: list[Call] = []
    t = start
    while t < start + minutes * MINUTE:
        out.append((t, rng.uniform(c0, c1), rng.randint(i0, i1), rng.randint(o0, o1)))
        t += rng.uniform(40, 120) if kind != "surge" else rng.choice([150.0, 300.0])
    return out


def calls() -> list[tuple[str, str, str, list[Call]]]:
    """(user, team, model, session calls) for the four days."""
    rng = random.Random(5)
    out = []
    for team, offset in TEAMS.items():
        for p in range(5):
            user = f"{team}{p}@example.org"
            for day in range(4):
                day_start = MONDAY + day * DAY - offset * HOUR
                if user == CONTEXT:
                    start = day_start + rng.uniform(13, 14) * HOUR
                    out.append((user, team, OPUS, session(rng, start, 90, "context")))
                if user == WRITER:
                    start = day_start + rng.uniform(9, 10) * HOUR
                    out.append((user, team, HAIKU, session(rng, start, 60, "writer")))
                for _ in range(rng.randint(2, 4)):
                    start = day_start + rng.uniform(8, 17) * HOUR
                    out.append(
                        (user, team, SONNET, session(rng, start, rng.uniform(10, 60), "light"))
                    )
    out.append((SURGING, "field", OPUS, session(rng, SURGE_START, 60, "surge")))
    return out


def log_record(user: str, sid: str, model: str, call: Call) -> dict:
    """A Claude Code `api_request` event: every attribute a string, as Claude Code sends it."""
    t, cost, tokens_in, tokens_out = call
    attrs = {"event.name": "api_request", "event.timestamp": f"{t:.3f}", "session.id": sid,
             "user.email": user, "model": model, "cost_usd": f"{cost:.6f}",
             "input_tokens": "200", "output_tokens": str(tokens_out),
             "cache_read_tokens": str(tokens_in - 200), "cache_creation_tokens": "0",
             "duration_ms": "9000"}  # fmt: skip
    return {"timeUnixNano": str(int(t * 1e9)), "body": {"stringValue": "claude_code.api_request"},
            "attributes": attributes(attrs)}  # fmt: skip


def span(n: int, user: str, team: str, sid: str, model: str, call: Call) -> dict:
    """The wrapper's `n`th `claude.invoke` span (n > 0), with the cost it estimated."""
    t, cost, tokens_in, tokens_out = call
    end = int(t * 1e9)
    attrs = {"user": user, "team": team, "session.id": sid, "model": f"us.anthropic.{model}-v1:0",
             "region": "us-west-2", "tokens_in": tokens_in, "tokens_out": tokens_out,
             "cost_estimate": cost}  # fmt: skip
    return {"traceId": f"{n:032x}", "spanId": f"{n:016x}", "name": "claude.invoke", "kind": 3,
            "startTimeUnixNano": str(end - 9_000_000_000), "endTimeUnixNano": str(end),
            "attributes": attributes(attrs), "status": {"code": 1}}  # fmt: skip


def history(style: str) -> list[bytes]:
    """The days as OTLP/JSON lines: per team and five-minute batch one shuffled request."""
    ids = itertools.count(1)
    items = []
    for n, (user, team, model, session_calls) in enumerate(calls()):
        for call in session_calls:
            if style == "logs":
                record = log_record(user, f"s{n}", model, call)
            else:
                record = span(next(ids), user, team, f"s{n}", model, call)
            items.append((call[0], team, record))
    return team_batches(style, items, random.Random(3))


@pytest.mark.parametrize("style", ["logs", "spans"])
def test_a_surge_of_few_dear_long_answers_opens_within_a_quarter_hour(tmp_path: Path, style):
    opened = [
        (t, i)
        for t, i in replay_opened_at(tmp_path, history(style))
        if i["rule_id"] == "spend-and-answers-per-user"
    ]
    assert [i["group"]["user"] for _, i in opened] == [SURGING], opened
    [(at, incident)] = opened
    assert SURGE_START < at <= SURGE_START + 15 * MINUTE
    [sample] = incident["evidence"]["samples"]
    assert sample["data"]["multiple"] >= 2.0
