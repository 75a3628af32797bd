"""A model slowing down in a region it is seldom called in is found on the history's first day:
the thin model-region starts from the model's curve over all its regions, rather than
learning its own from calls that may already be slow.

The organisation is unlike the simulator's: nine and a half hours east of UTC, calling one
model under two spellings: an `apac.` cross-region profile from Sydney all day (a call every
fifteen to forty seconds), and a foundation-model ARN in Tokyo a few times an hour (a call
every eight to fifteen minutes), the region said by `aws.region`. Tokyo's calls turn four
times slower three hours into the first day, for an hour: some twenty calls of Tokyo's own
by then, too few for a curve of its own (60), while Sydney's taught the model's long before.

Replayed as a user would, with the default entry of latency-per-model-region as a
configuration file gives it (a `detectors:` list replaces the default set).
"""

from __future__ import annotations

import math
import random

import pytest

from engine.timeutil import parse_time
from tests.replay_cli import replay_default_detector

DETECTOR = "latency-per-model-region"
TUESDAY = parse_time("2025-09-09T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
OFFSET = 9.5  # hours east of UTC
PROFILE = "apac.anthropic.claude-sonnet-4-5-20250929-v1:0"
ARN = (
    "arn:aws:bedrock:ap-northeast-1:123456789012:foundation-model/"
    "anthropic.claude-sonnet-4-5-20250929-v1:0"
)
# region: (spelling of the model, seconds between calls)
REGIONS = {"ap-southeast-2": (PROFILE, (15.0, 40.0)), "ap-northeast-1": (ARN, (480.0, 900.0))}
SLOW_REGION, SLOW_FROM, SLOW_FOR, FACTOR = "ap-northeast-1", 12.0, HOUR, 4.0


def at(day: int, hour: float) -> float:
    return TUESDAY + day * DAY + (hour - OFFSET) * HOUR


def slow_start() -> float:
    return at(0, SLOW_FROM)


def events(seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for region, (model, gap) in REGIONS.items():
        for day in range(2):
            t = at(day, 8.5) + rng.uniform(0, 10) * MINUTE
            while t < at(day, 18.0):
                tokens = int(math.exp(rng.uniform(math.log(20), math.log(3000))))
                latency = (900.0 + 22.0 * tokens) * math.exp(rng.gauss(0.0, 0.15))
                if region == SLOW_REGION and slow_start() <= t < slow_start() + SLOW_FOR:
                    latency *= FACTOR
                where = {"region": region} if region != SLOW_REGION else {"aws.region": region}
                out.append({"time": round(t, 3), "name": "claude.invoke", "status": "ok",
                            "user": f"dev{rng.randint(1, 9)}@corp.example", "team": "orbit",
                            "session": f"s{int(t // 1800)}", "model": model, **where,
                            "tokens_in": rng.randint(2000, 9000), "tokens_out": tokens,
                            "latency_ms": round(latency, 1), "cost": 0.01})  # fmt: skip
                t += rng.uniform(*gap)
    out.sort(key=lambda e: e["time"])
    return out


@pytest.fixture(scope="module", params=[2, 9])
def opened(request, tmp_path_factory) -> list[tuple[float, dict]]:
    tmp = tmp_path_factory.mktemp("latency-thin")
    return replay_default_detector(tmp, DETECTOR, events(request.param))


def test_the_thin_regions_slowdown_is_one_incident_while_it_lasts(opened):
    [(t, incident)] = opened
    assert incident["group"] == {"model": "anthropic.claude-sonnet-4-5", "region": SLOW_REGION}
    assert slow_start() <= t <= slow_start() + SLOW_FOR
