"""A team's calls turning pricier: the default cost-per-call-per-team entry (off by default)
turned on alone, replayed on a week of normalised events.

Three teams (twelve, eight and four people, UTC) work weekdays 08:00-18:00 in sessions of
calls (a call every 40-120 s, each priced from its tokens): a quarter of them mostly on Opus,
the rest mostly on Sonnet, each now and then on the other model with their usual answers. One person of the small team works every
evening alone, on Opus. On Wednesday at 14:00 the middle team moves to Opus with answers twice
as long and a third more calls, for ninety minutes: its spend per five minutes stays within
what a busy afternoon of that team reaches, its typical call costs several times its usual.
That opens one incident within half an hour; nothing else opens once the first day is
learned.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from engine.timeutil import parse_time
from tests.replay_cli import replay_default_detector

MONDAY = parse_time("2026-05-04T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
TEAMS = {"platform": 12, "payments": 8, "infra": 4}
SONNET, OPUS = "claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805"
PRICES = {SONNET: (3e-6, 15e-6), OPUS: (15e-6, 75e-6)}  # $ per input, output token
SURGING = "payments"
SURGE_START = MONDAY + 2 * DAY + 14 * HOUR
SURGE_END = SURGE_START + 1.5 * HOUR
EVENING = "infra0@example.org"  # on Opus alone every evening
DETECTOR = "cost-per-call-per-team"


def session(
    rng: random.Random, who: tuple[str, str], sid: str, span: tuple[float, float], model: str
) -> list[dict]:
    """One session's calls as normalised events: prompts of 20-60k tokens, answers of about
    400 tokens (heavy tailed), twice as long and a third more frequent in the surge."""
    (user, team), (start, end) = who, span
    events, t = [], start
    while t < end:
        surge = team == SURGING and SURGE_START <= t < SURGE_END
        model_now = OPUS if surge else model
        tokens_in = rng.randint(20_000, 60_000)
        tokens_out = int(400 * (2.0 if surge else 1.0) * rng.lognormvariate(0.0, 0.6))
        p_in, p_out = PRICES[model_now]
        cost = round(tokens_in * p_in * 0.3 + tokens_out * p_out, 6)  # most of it cache reads
        events.append({"time": t, "kind": "log", "name": "claude_code.api_request",
                       "session": sid, "user": user, "team": team, "model": model_now,
                       "tokens_in": tokens_in, "tokens_out": tokens_out, "cost": cost})  # fmt: skip
        t += rng.uniform(40, 120) / (1.3 if surge else 1.0)
    return events


def person_week(rng: random.Random, user: str, team: str) -> list[dict]:
    """A person's weekdays, 08:00-18:00 (from about 08:00, a lunch hour at noon): sessions of
    20-70 minutes with short breaks, nine in ten on the person's own model (Opus for a quarter
    of the people), the rest on the other."""
    events: list[dict] = []
    usual, other = (OPUS, SONNET) if rng.random() < 0.25 else (SONNET, OPUS)
    for day in range(5):
        day_start = MONDAY + day * DAY
        if user == EVENING:
            span = (day_start + 19 * HOUR, day_start + 21 * HOUR)
            events += session(rng, (user, team), f"{user}-e{day}", span, OPUS)
        t, n = day_start + rng.uniform(7.5, 9) * HOUR, 0
        while t < day_start + 17.5 * HOUR:
            if day_start + 12 * HOUR <= t < day_start + 13 * HOUR:
                t = day_start + 13 * HOUR
            model = usual if rng.random() < 0.9 else other
            span = (t, t + rng.uniform(20, 70) * MINUTE)
            events += session(rng, (user, team), f"{user}-{day}-{n}", span, model)
            t, n = span[1] + rng.uniform(2, 20) * MINUTE, n + 1
    return events


def week(seed: int) -> list[dict]:
    rng = random.Random(seed)
    events = [
        e
        for team, size in TEAMS.items()
        for p in range(size)
        for e in person_week(rng, f"{team}{p}@example.org", team)
    ]
    return sorted(events, key=lambda e: e["time"])


@pytest.mark.parametrize("seed", [1, 2])
def test_a_team_moving_to_a_dearer_model_opens_one_incident_within_half_an_hour(
    tmp_path: Path, seed: int
) -> None:
    opened = replay_default_detector(tmp_path, DETECTOR, week(seed), turn_on=True)
    settled = [(t, i) for t, i in opened if t >= MONDAY + DAY]
    assert [i["group"] for _, i in settled] == [{"team": SURGING}], opened
    [(at, incident)] = settled
    assert SURGE_START < at <= SURGE_START + 30 * MINUTE
    [sample] = incident["evidence"]["samples"]
    assert sample["data"]["value"] > 2.0 * sample["data"]["expected"]
