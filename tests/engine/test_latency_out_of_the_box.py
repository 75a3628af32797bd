"""Latency replayed as a user would with the defaults, from Claude Code's own spellings
(duration_ms, output_tokens as text, times with an offset): a model called a few times in 15
minutes that slows down is one incident; another model's hour of very long answers is none."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson

from tests.replay_cli import replay_opened

T0 = datetime(2026, 3, 2, tzinfo=UTC)
TOKYO = timezone(timedelta(hours=9))
THIN = ("eu.anthropic.claude-opus-4-1-20250805-v1:0", "eu-west-3")
BUSY = ("anthropic.claude-3-5-haiku-20241022-v1:0", "ap-northeast-1")
SLOW_FROM = T0 + timedelta(days=2, hours=10)
LONG_FROM = T0 + timedelta(days=2, hours=4)


def call(rng: random.Random, at: datetime, model: str, region: str, slow: float) -> dict:
    long = model == BUSY[0] and LONG_FROM <= at < LONG_FROM + timedelta(hours=1)
    tokens = rng.randint(7000, 9000) if long else int(math.exp(rng.uniform(2.0, 7.5)))
    per_token, overhead = (25.0, 1500.0) if model == THIN[0] else (3.0, 250.0)
    ms = (overhead + per_token * tokens) * math.exp(rng.gauss(0.0, 0.35)) * slow
    return {"time": at.astimezone(TOKYO).isoformat(), "name": "claude_code.api_request",
            "model": model, "region": region, "status": "ok", "duration_ms": f"{ms:.1f}",
            "output_tokens": str(tokens), "input_tokens": "1200", "user": "kenji@example.jp",
            "team": "search", "session.id": f"s-{rng.randrange(40)}"}  # fmt: skip


def history() -> list[dict]:
    rng = random.Random(11)
    events = []
    for model, region in (THIN, BUSY):
        rate = 12.0 if model == THIN[0] else 150.0  # calls an hour
        at = T0
        while at < T0 + timedelta(days=3):
            at += timedelta(seconds=rng.expovariate(rate / 3600.0))
            slow = (
                3.0
                if model == THIN[0] and SLOW_FROM <= at < SLOW_FROM + timedelta(hours=2)
                else 1.0
            )
            events.append((at, call(rng, at, model, region, slow)))
    return [e for _, e in sorted(events, key=lambda x: x[0])]


def test_a_thin_models_slowdown_is_one_incident_and_long_answers_none(tmp_path: Path):
    opened = replay_opened(tmp_path, map(orjson.dumps, history()))
    latency = [i for i in opened if i["rule_id"].startswith("latency-")]
    assert [i["group"]["region"] for i in latency] == [THIN[1]], latency
    first = datetime.fromisoformat(latency[0]["first_seen"].replace("Z", "+00:00"))
    assert SLOW_FROM < first <= SLOW_FROM + timedelta(hours=1)
    evidence = latency[0]["evidence"]["samples"][0]["data"]
    assert evidence["slowdown"] > 2.0
