"""Latency of calls that do not say their region, replayed with the defaults: an organisation
exporting only Claude Code's own events (no region anywhere) gets its model's slowdown as one
incident per model, and none without a slowdown; where the same model's calls also say their
region, the slowdown pages once, under that region."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson

from tests.replay_cli import replay_opened

T0 = datetime(2026, 7, 14, tzinfo=UTC)
ST_JOHNS = timezone(timedelta(hours=-2, minutes=-30))
SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"
CANONICAL = "anthropic.claude-sonnet-4-5"  # the identity both spellings decode to
SLOW_FROM = T0 + timedelta(days=2, hours=15, minutes=20)


def latency_ms(rng: random.Random, model: str, tokens: int, slow: float) -> float:
    per_token, overhead = (14.0, 900.0) if model == SONNET else (2.5, 180.0)
    return (overhead + per_token * tokens) * math.exp(rng.gauss(0.0, 0.4)) * slow


def event(rng: random.Random, at: datetime, model: str, slow: float, region: str | None) -> dict:
    """A Claude Code log event (no region), or the wrapper's span when `region` is given."""
    tokens = int(math.exp(rng.uniform(1.0, 8.5)))
    ms = latency_ms(rng, model, tokens, slow)
    if region is None:
        return {"time": at.astimezone(ST_JOHNS).isoformat(), "name": "claude_code.api_request",
                "model": model, "status": "ok", "duration_ms": f"{ms:.0f}",
                "output_tokens": str(tokens), "input_tokens": "900", "user": "ana@example.org",
                "team": "payments", "session.id": f"log-{rng.randrange(60)}"}  # fmt: skip
    return {"time": at.timestamp(), "name": "claude.invoke", "model": f"eu.anthropic.{model}-v1:0",
            "region": region, "status": "ok", "latency_ms": round(ms, 2), "tokens_out": tokens,
            "tokens_in": 900, "user": "bo@example.org", "team": "search",
            "session": f"span-{rng.randrange(60)}"}  # fmt: skip


def history(seed: int, slowed: float, spans_region: str | None = None) -> list[dict]:
    """Three days of both models' calls as log events (and, with `spans_region`, as many more
    of other people's calls as spans in that region); from SLOW_FROM for 90 minutes Sonnet's
    calls, in every export, take `slowed` times as long."""
    rng = random.Random(seed)
    events = []
    sources = [None] if spans_region is None else [None, spans_region]
    for model, per_hour in ((SONNET, 40.0), (HAIKU, 200.0)):
        for region in sources:
            at = T0
            while at < T0 + timedelta(days=3):
                at += timedelta(seconds=rng.expovariate(per_hour / 3600.0))
                in_slowdown = SLOW_FROM <= at < SLOW_FROM + timedelta(minutes=90)
                slow = slowed if model == SONNET and in_slowdown else 1.0
                events.append((at, event(rng, at, model, slow, region)))
    return [e for _, e in sorted(events, key=lambda x: x[0])]


def latency_incidents(tmp: Path, events: list[dict]) -> list[dict]:
    opened = replay_opened(tmp, map(orjson.dumps, events))
    return [i for i in opened if i["rule_id"].startswith("latency-")]


def test_calls_without_a_region_are_judged_per_model(tmp_path: Path):
    found = latency_incidents(tmp_path, history(seed=3, slowed=3.0))
    assert [i["group"] for i in found] == [{"model": CANONICAL, "region": "unknown"}], found
    first = datetime.fromisoformat(found[0]["first_seen"].replace("Z", "+00:00"))
    assert SLOW_FROM < first <= SLOW_FROM + timedelta(minutes=30)


def test_calls_without_a_region_and_no_slowdown_open_nothing(tmp_path: Path):
    assert latency_incidents(tmp_path, history(seed=4, slowed=1.0)) == []


def test_a_model_whose_calls_also_say_their_region_pages_once(tmp_path: Path):
    found = latency_incidents(tmp_path, history(seed=5, slowed=3.0, spans_region="eu-north-1"))
    assert [i["group"] for i in found] == [{"model": CANONICAL, "region": "eu-north-1"}], found
