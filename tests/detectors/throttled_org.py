"""An organisation's calls through the default error detectors, with a provider throttling
every team on one model and region for an afternoon (a share of their calls failing, each
retried), and optionally one team's own burst: what the error tests are judged on."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from detectors import DetectorsConfig, DetectorSet, Signal
from detectors.config import DetectorSpec

MONDAY = 1793577600.0  # 2026-11-02T00:00:00Z
HOUR = 3600.0
MINUTE = 60.0
SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"


@dataclass(frozen=True)
class Org:
    """Teams (name -> headcount) and their region; each person calls about every `gap`
    minutes by day (8:00 to 18:00 UTC), mostly the Sonnet model, a fifth of calls Haiku."""

    teams: dict[str, int]
    regions: dict[str, str] = field(default_factory=dict)  # team -> region (default us-east-1)
    gap: float = 4.0
    base: float = 0.01  # every call's own chance to fail

    def region(self, team: str) -> str:
        return self.regions.get(team, "us-east-1")


@dataclass(frozen=True)
class Throttle:
    """From `start` for `hours`, `share` of the calls to `model` in `region` are throttled."""

    start: float
    hours: float
    share: float
    region: str = "us-east-1"
    model: str = SONNET

    def hits(self, t: float, model: str, region: str) -> bool:
        inside = self.start <= t < self.start + self.hours * HOUR
        return inside and model == self.model and region == self.region


@dataclass(frozen=True)
class Burst:
    """From `start` for `minutes`, `share` of one team's calls fail (its own trouble)."""

    team: str
    start: float
    minutes: float = 20.0
    share: float = 0.4

    def hits(self, t: float, team: str) -> bool:
        return team == self.team and self.start <= t < self.start + self.minutes * MINUTE


def events(
    org: Org, seed: int, days: int, throttles: list[Throttle], bursts: list[Burst]
) -> list[dict[str, object]]:
    """The organisation's calls in time order; a throttled call is retried at once (a second
    event of the same session, which may be throttled again)."""
    rng, out = random.Random(seed), []
    people = [
        (team, f"{team}-{i}@example.org") for team, size in org.teams.items() for i in range(size)
    ]
    for day in range(days):
        for person_i, (team, user) in enumerate(people):
            t = MONDAY + day * 86400 + 8 * HOUR + rng.uniform(0, org.gap * MINUTE)
            while t < MONDAY + day * 86400 + 18 * HOUR:
                model = HAIKU if rng.random() < 0.2 else SONNET
                session = f"s{day}-{person_i}-{int(t) // 1800}"
                t = _call(org, rng, out, (team, user, session, model), t, throttles, bursts)
                t += rng.expovariate(1.0 / (org.gap * MINUTE))
    out.sort(key=lambda e: float(e["time"]))  # type: ignore[arg-type]
    return out


def _call(
    org: Org,
    rng: random.Random,
    out: list[dict[str, object]],
    who: tuple[str, str, str, str],
    t: float,
    throttles: list[Throttle],
    bursts: list[Burst],
) -> float:
    """One call and its retries while throttled (three attempts at most); the last time."""
    team, user, session, model = who
    region = org.region(team)
    for attempt in range(3):
        throttled = any(th.hits(t, model, region) for th in throttles)
        failed = (throttled and rng.random() < _share(throttles, t, model, region)) or any(
            b.hits(t, team) and rng.random() < b.share for b in bursts
        )
        failed = failed or rng.random() < org.base
        out.append(
            {
                "time": t, "name": "claude.invoke", "status": "error" if failed else "ok",
                "model": model, "region": region, "user": user, "team": team,
                "session": session,
            }
        )  # fmt: skip
        if not failed or attempt == 2:
            break
        t += rng.uniform(1.0, 5.0)
    return t


def _share(throttles: list[Throttle], t: float, model: str, region: str) -> float:
    return max((th.share for th in throttles if th.hits(t, model, region)), default=0.0)


def firing(
    org: Org,
    seed: int,
    throttles: list[Throttle],
    bursts: list[Burst],
    detectors: tuple[str, ...],
    days: int = 3,
    change: Callable[[DetectorSpec], DetectorSpec] | None = None,
) -> list[Signal]:
    """The signals opening an alert of the named default detectors over the days (each
    detector's spec first through `change`, when given)."""
    config = DetectorsConfig()
    config.detectors = [change(d) if change else d for d in config.detectors if d.id in detectors]
    ds = DetectorSet.from_config(config)
    states = {d: ds.new_state(d) for d in detectors}
    out: list[Signal] = []
    last = MONDAY
    for ev in events(org, seed, days, throttles, bursts):
        for obs in ds.route(ev):
            out += states[obs[0]].update(obs)
        t = float(ev["time"])  # type: ignore[arg-type]
        if t - last >= MINUTE:
            for state in states.values():
                out += state.advance(t - 5.0)
            last = t
    return _openings(out)


def _openings(signals: list[Signal]) -> list[Signal]:
    """The signals that open an alert: a key's firing signal after none, or after its last
    one resolved (a firing key signals again every window)."""
    firing: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    opened = []
    for s in signals:
        key = (s.detector_id, tuple(sorted(s.group.items())))
        if s.firing and key not in firing:
            opened.append(s)
        (firing.add if s.firing else firing.discard)(key)
    return opened
