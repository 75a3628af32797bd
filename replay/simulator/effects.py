"""How injected incidents bend ordinary traffic: slower model, bloating tokens, errors, silence.

Some incidents are not extra activity but a change in what everybody already does (a model in one
region slows down, a team's prompts bloat over a day, a team's telemetry stops). The planner fills
these windows before traffic is generated; sessions consult them per invocation.
Times are integer microseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Effects:
    # (model, region, start, end, latency factor)
    latency: list[tuple[str, str, int, int, float]] = field(default_factory=list)
    # team -> [(start, end, factor reached at the end: tokens ramp linearly from 1)]
    token_ramps: dict[str, list[tuple[int, int, float]]] = field(default_factory=dict)
    # user -> [(start, end, error probability of an invocation)]
    error_bursts: dict[str, list[tuple[int, int, float]]] = field(default_factory=dict)
    # team -> [(start, end)] in which nothing of the team arrives
    silences: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    # team -> [(start, end, error probability of an invocation)]: a team-wide error burst
    team_error_bursts: dict[str, list[tuple[int, int, float]]] = field(default_factory=dict)
    # team -> [(start, end, cache-hit probability)]: the team's prompt cache stops working
    cache_collapses: dict[str, list[tuple[int, int, float]]] = field(default_factory=dict)

    def latency_factor(self, model: str, region: str, t: int) -> float:
        for m, r, lo, hi, factor in self.latency:
            if m == model and r == region and lo <= t < hi:
                return factor
        return 1.0


def token_factor(ramps: list[tuple[int, int, float]] | None, t: int) -> float:
    if ramps:
        for lo, hi, top in ramps:
            if lo <= t < hi:
                return 1.0 + (top - 1.0) * (t - lo) / (hi - lo)
    return 1.0


def error_probability(bursts: list[tuple[int, int, float]] | None, t: int, base: float) -> float:
    if bursts:
        for lo, hi, p in bursts:
            if lo <= t < hi:
                return p
    return base


def silenced(windows: list[tuple[int, int]] | None, t: int) -> bool:
    return bool(windows) and any(lo <= t < hi for lo, hi in windows)  # type: ignore[union-attr]
