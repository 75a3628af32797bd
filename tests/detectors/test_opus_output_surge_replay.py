"""A person's surge of long Opus answers out of the box: OTLP histories replayed with the defaults.

Eighteen people in three teams (UTC-7, UTC+1, UTC+5:30) work a week of weekdays: Sonnet
sessions most of the day and, on about a third of their days, an Opus session with answers of
their usual length. One person of the UTC+5:30 team works three hours of Opus with long answers
every afternoon (heavy, but steady). On Thursday a person of the UTC-7 team keeps Opus writing
long answers for two hours, in an afternoon that crosses UTC midnight; the same day a newcomer,
who has worked one short Sonnet session all week, does the same. The history is either Claude
Code's own events (every value a string) or the wrapper's spans, sent in five-minute batches
out of time order within a batch. Each surge opens one opus-output-per-user incident before it
ends; the heavy steady person opens none once the organisation has seen two working days.
The detector is off by default; the replay turns its default entry on.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
import yaml

from detectors.config import default_detectors
from engine.timeutil import parse_time
from tests.otlp_batches import attributes, team_batches
from tests.replay_cli import replay_opened_at

MONDAY = parse_time("2026-06-01T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
TEAMS = {"field": -7.0, "core": 1.0, "apps": 5.5}  # team: UTC offset in hours
SONNET, OPUS = "claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805"
HEAVY = "apps0@example.org"
SURGING = "field3@example.org"
THIN = "thin@example.org"  # one short Sonnet session on Monday, then the surge
SURGE_START = MONDAY + 3 * DAY + (17 + 7) * HOUR  # Thursday 17:00 local (UTC-7)
THIN_START = MONDAY + 3 * DAY + 9 * HOUR  # Thursday 10:00 local (UTC+1)
SURGE_HOURS = 2.0
SETTLED = MONDAY + 2 * DAY  # from the organisation's third working day
DETECTOR = "opus-output-per-user"


def session(rng: random.Random, start: float, minutes: float, answer: int) -> list:
    """(time, output tokens) of one session's calls: a call every 40-120 s, answers of about
    `answer` tokens (heavy tailed)."""
    out, t = [], start
    while t < start + minutes * MINUTE:
        out.append((t, int(answer * rng.lognormvariate(0.0, 0.6))))
        t += rng.uniform(40, 120)
    return out


def calls() -> list[tuple[str, str, str, list]]:
    """(user, team, model, session calls) for the whole week."""
    rng = random.Random(7)
    out = []
    for team, offset in TEAMS.items():
        for p in range(6):
            user = f"{team}{p}@example.org"
            answer = rng.choice((300, 600, 1200))
            for day in range(5):
                day_start = MONDAY + day * DAY - offset * HOUR
                if user == HEAVY:
                    start = day_start + rng.uniform(13, 14) * HOUR
                    out.append((user, team, OPUS, session(rng, start, 180, 3500)))
                for _ in range(rng.randint(1, 3)):
                    start = day_start + rng.uniform(8, 17) * HOUR
                    out.append(
                        (user, team, SONNET, session(rng, start, rng.uniform(10, 60), answer))
                    )
                if rng.random() < 0.35:
                    start = day_start + rng.uniform(8, 16) * HOUR
                    out.append((user, team, OPUS, session(rng, start, rng.uniform(20, 50), answer)))
    out.append((THIN, "core", SONNET, session(rng, MONDAY + 10 * HOUR, 20, 600)))
    for user, team, start in ((SURGING, "field", SURGE_START), (THIN, "core", THIN_START)):
        out.append((user, team, OPUS, session(rng, start, SURGE_HOURS * 60, 3500)))
    return out


def log_record(user: str, sid: str, model: str, t: float, out: int) -> dict:
    """A Claude Code `api_request` event: every attribute a string, as Claude Code sends it."""
    price = 75e-6 if model == OPUS else 15e-6
    attrs = {"event.name": "api_request", "event.timestamp": f"{t:.3f}", "session.id": sid,
             "user.email": user, "model": model, "cost_usd": f"{out * price + 0.05:.6f}",
             "input_tokens": "900", "output_tokens": str(out), "cache_read_tokens": "30000",
             "cache_creation_tokens": "0", "duration_ms": "9000"}  # fmt: skip
    return {"timeUnixNano": str(int(t * 1e9)), "body": {"stringValue": "claude_code.api_request"},
            "attributes": attributes(attrs)}  # fmt: skip


def span(n: int, user: str, team: str, sid: str, model: str, t: float, out: int) -> dict:
    """The wrapper's `n`th `claude.invoke` span (n > 0), the model in a cross-region profile."""
    end = int(t * 1e9)
    attrs = {"user": user, "team": team, "session.id": sid, "model": f"us.anthropic.{model}-v1:0",
             "region": "us-west-2", "tokens_in": 30900, "tokens_out": out}  # fmt: skip
    return {"traceId": f"{n:032x}", "spanId": f"{n:016x}", "name": "claude.invoke", "kind": 3,
            "startTimeUnixNano": str(end - 9_000_000_000), "endTimeUnixNano": str(end),
            "attributes": attributes(attrs), "status": {"code": 1}}  # fmt: skip


def history(style: str) -> list[bytes]:
    """The week as OTLP/JSON lines: per team and five-minute batch, one request whose records
    are shuffled; the batches in time order."""
    ids = itertools.count(1)
    items = []
    for n, (user, team, model, session_calls) in enumerate(calls()):
        sid = f"s{n}"
        for t, out in session_calls:
            if style == "logs":
                item = log_record(user, sid, model, t, out)
            else:
                item = span(next(ids), user, team, sid, model, t, out)
            items.append((t, team, item))
    return team_batches(style, items, random.Random(5))


def detector_on(tmp: Path) -> Path:
    """A configuration whose detectors are the default opus-output entry, turned on."""
    (entry,) = [d for d in default_detectors() if d.id == DETECTOR]
    spec = {**entry.model_dump(mode="json", by_alias=True, exclude_unset=True), "enabled": True}
    config = tmp / "spanwatch.yml"
    config.write_text(yaml.safe_dump({"detectors": [spec]}))
    return config


@pytest.mark.parametrize("style", ["logs", "spans"])
def test_long_opus_answers_open_one_incident_each_and_a_heavy_steady_person_none(
    tmp_path: Path, style: str
) -> None:
    opened = [
        (t, i)
        for t, i in replay_opened_at(
            tmp_path, history(style), "--config", str(detector_on(tmp_path))
        )
        if i["rule_id"] == DETECTOR
    ]
    users = [i["group"]["user"] for t, i in opened if t >= SETTLED]
    assert sorted(users) == sorted([SURGING, THIN]), opened
    for user, start in ((SURGING, SURGE_START), (THIN, THIN_START)):
        [(at, incident)] = [(t, i) for t, i in opened if i["group"]["user"] == user]
        assert start < at <= start + SURGE_HOURS * HOUR
        [sample] = incident["evidence"]["samples"]
        assert sample["data"]["value"] >= sample["data"]["bar"]
    [(_, surging)] = [(t, i) for t, i in opened if i["group"]["user"] == SURGING]
    [(_, thin)] = [(t, i) for t, i in opened if i["group"]["user"] == THIN]
    # the settled person is judged against their own Opus sessions, the newcomer by peers alone
    assert surging["evidence"]["samples"][0]["data"]["own_max"] > 0.0
    assert thin["evidence"]["samples"][0]["data"]["own_max"] == 0.0
