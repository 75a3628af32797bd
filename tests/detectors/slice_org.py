"""A random organisation's calls, as normalised events, for the slices detector's tests.

Shapes vary with the seed: how many teams and people, how busy each is, which models, regions,
workflows and repositories each team uses, each person's own error rate, latency and tokens.
A planted departure multiplies one slice's errors, latency, or calls for a few windows.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1", "claude-3-7-sonnet")
REGIONS = ("us-east-1", "us-west-2", "eu-central-1", "ap-northeast-1")
WORKFLOWS = ("chat", "ci-fix", "review", "refactor", "docs")
START = 1_790_000_100.0  # a multiple of every window length the tests use


@dataclass(frozen=True)
class Plant:
    """What departs: `dim=value` from window `start` for `windows` windows."""

    dim: str
    value: str
    start: int
    windows: int
    kind: str = "errors"  # errors | latency | calls

    def on(self, event: dict, window: int) -> bool:
        return self.start <= window < self.start + self.windows and event[self.dim] == self.value


@dataclass
class Person:
    user: str
    team: str
    rate: float  # calls per window
    error: float
    latency: float
    tokens: float
    models: tuple[str, ...]
    region: str
    repos: tuple[str, ...]


@dataclass
class Org:
    people: list[Person]
    interval: float
    seed: int
    teams: list[str] = field(default_factory=list)

    def events(self, windows: int, plant: Plant | None = None) -> Iterator[dict]:
        """Each window's calls in time order; a planted slice departs as told."""
        rng = random.Random(self.seed * 7919 + 1)
        for w in range(windows):
            batch = []
            for p in self.people:
                for _ in range(_poisson(rng, p.rate)):
                    e = {
                        "name": "claude.invoke",
                        "time": START + (w + rng.random()) * self.interval,
                        "user": p.user,
                        "team": p.team,
                        "model": rng.choice(p.models),
                        "region": p.region,
                        "workflow": rng.choice(WORKFLOWS),
                        "repo": rng.choice(p.repos),
                        "session": f"{p.user}-s{w // 12}",
                    }
                    error, latency = p.error, p.latency
                    copies = 1
                    if plant is not None and plant.on(e, w):
                        if plant.kind == "errors":
                            error = 0.45
                        elif plant.kind == "latency":
                            latency *= 4.0
                        else:
                            copies = 12
                    for _ in range(copies):
                        c = dict(e, time=START + (w + rng.random()) * self.interval)
                        c["status"] = "error" if rng.random() < error else "ok"
                        c["latency_ms"] = latency * math.exp(rng.gauss(0.0, 0.5))
                        c["tokens_in"] = p.tokens * math.exp(rng.gauss(0.0, 0.7))
                        c["cache_hit"] = rng.random() < 0.7
                        batch.append(c)
            batch.sort(key=lambda e: e["time"])
            yield from batch


def _poisson(rng: random.Random, lam: float) -> int:
    n, t = 0, rng.expovariate(1.0)
    while t < lam:
        n += 1
        t += rng.expovariate(1.0)
    return n


def organisation(seed: int, people: int, teams: int, interval: float = 300.0) -> Org:
    """A random organisation of about `people` people in `teams` teams."""
    rng = random.Random(seed)
    names = [f"team-{rng.randrange(10**6):06d}" for _ in range(teams)]
    repos = {t: tuple(f"{t}/repo-{i}" for i in range(rng.randint(1, 4))) for t in names}
    crowd = []
    for i in range(people):
        team = names[min(int(rng.paretovariate(1.2)) - 1, teams - 1)] if i >= teams else names[i]
        crowd.append(
            Person(
                user=f"user{i:04d}@example.com",
                team=team,
                rate=rng.choice((0.3, 1.0, 2.0, 4.0)),
                error=rng.choice((0.0, 0.002, 0.01, 0.03)),
                latency=rng.uniform(800.0, 6000.0),
                tokens=rng.uniform(2000.0, 40000.0),
                models=tuple(rng.sample(MODELS, rng.randint(1, 3))),
                region=rng.choice(REGIONS),
                repos=repos[team],
            )
        )
    return Org(crowd, interval, seed, names)


def slice_sizes(org: Org, dim: str) -> dict[str, float]:
    """Expected calls per window of each value of `dim` (models and repos split evenly)."""
    out: dict[str, float] = {}
    for p in org.people:
        if dim in ("team", "user", "region"):
            values = [getattr(p, dim)]
        else:
            values = list(p.models if dim == "model" else p.repos)
        for v in values:
            out[v] = out.get(v, 0.0) + p.rate / len(values)
    return out
