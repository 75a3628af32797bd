"""A Sydney team's calls to one model in one region, with a planted climb towards its quota.

Written as flat JSON lines with local (+11:00) timestamps, next to simulated history from other
offices: the capacity detectors must find the climb ahead of time and nothing else.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from pathlib import Path

import orjson

SYDNEY = dt.timezone(dt.timedelta(hours=11))
MODEL_SPELLING = "apac.anthropic.claude-sonnet-4-20250514-v1:0"
MODEL = "anthropic.claude-sonnet-4"
REGION = "ap-southeast-2"


@dataclass(frozen=True)
class Climb:
    """Usage multiplied by up to `factor`, rising linearly over `rise` seconds from `start`,
    held until `end`, then back to normal."""

    start: float
    rise: float
    end: float
    factor: float

    def multiplier(self, t: float) -> float:
        if t < self.start or t >= self.end:
            return 1.0
        return 1.0 + (self.factor - 1.0) * min(1.0, (t - self.start) / self.rise)


def office_rate(t: float, peak: float) -> float:
    """Requests per minute of a Sydney office: 09:00-18:00 local, weekdays, a midday hump."""
    local = dt.datetime.fromtimestamp(t, SYDNEY)
    if local.weekday() >= 5:
        return 0.0
    h = local.hour + local.minute / 60.0
    if not 9.0 <= h < 18.0:
        return 0.0
    return peak * (0.4 + 0.6 * math.sin(math.pi * (h - 9.0) / 9.0))


def expected_rate(t: float, peak: float, climb: Climb) -> float:
    return office_rate(t, peak) * climb.multiplier(t)


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0.0:
        return 0
    n, p, limit = 0, 1.0, math.exp(-mean)
    while True:
        p *= rng.random()
        if p <= limit:
            return n
        n += 1


def write_history(
    path: Path, start: float, end: float, climb: Climb, *, peak: float = 6.0, seed: int = 7
) -> int:
    """One flat `claude.invoke` line per call, minute by minute; returns the number of calls."""
    rng = random.Random(seed)
    users = [f"dev{i}@syd.example.com" for i in range(12)]
    lines = []
    t = start
    while t < end:
        for _ in range(poisson(rng, expected_rate(t, peak, climb))):
            at = t + rng.random() * 60.0
            user = rng.choice(users)
            local = dt.datetime.fromtimestamp(at, SYDNEY).isoformat(timespec="milliseconds")
            lines.append(
                orjson.dumps(
                    {
                        "time": local,
                        "name": "claude.invoke",
                        "user": user,
                        "team": "sydney-platform",
                        "session": f"{user}-{int(at // 3600)}",
                        "model": MODEL_SPELLING,
                        "region": REGION,
                        "tokens_in": int(rng.gammavariate(4.0, 750.0)),
                        "tokens_out": int(rng.gammavariate(2.0, 200.0)),
                        "status": "ok",
                    }
                )
            )
        t += 60.0
    path.write_bytes(b"\n".join(lines) + b"\n")
    return len(lines)
