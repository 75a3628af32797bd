"""Tumbling event-time windows: what one metric accumulates in one window, and its value.

An accumulator lives only while its window is open, for keys that had events in it; a
window with no events is still a point (see `empty_value`), so silence can be seen.
"""

from __future__ import annotations

import math
import random
from typing import Any

AGGREGATIONS = (
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "p50",
    "p95",
    "p99",
    "rate",
    "ratio",
    "distinct",
)
NUMERIC_INPUT = frozenset({"sum", "avg", "min", "max", "p50", "p95", "p99"})
TRUTH_INPUT = frozenset({"rate", "ratio"})
PERCENTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
MAX_SAMPLES = 2048  # per window and key, for percentiles (reservoir-sampled beyond)
MAX_DISTINCT = 4096  # per window and key, for distinct


class Accumulator:
    """One metric's running aggregate for one key in one window."""

    __slots__ = ("count", "distinct", "hi", "lo", "samples", "seen", "total")

    def __init__(self) -> None:
        self.count = 0  # events
        self.total = 0.0  # sum of values (or of truths for rate/ratio)
        self.lo = math.inf
        self.hi = -math.inf
        self.samples: list[float] | None = None
        self.distinct: dict[str, int] | None = None  # distinct: how often each value came
        self.seen = 0  # values offered to the sample reservoir

    def add(self, aggregation: str, value: Any, rng: random.Random) -> None:
        self.count += 1
        if aggregation == "count":
            return
        if aggregation == "distinct":
            seen = self._distinct()
            if value in seen or len(seen) < MAX_DISTINCT:
                seen[value] = seen.get(value, 0) + 1
            return
        self.total += value
        if value < self.lo:
            self.lo = value
        if value > self.hi:
            self.hi = value
        if aggregation in PERCENTILES:
            self._sample(value, rng)

    def merge(self, other: Accumulator, aggregation: str, rng: random.Random) -> None:
        """Add what `other` accumulated (the events a deduplication held back) to this one."""
        self.count += other.count
        if aggregation == "count":
            return
        if aggregation == "distinct":
            if other.distinct:
                seen, more = self._distinct(), other._distinct()
                for value in sorted(more):
                    if value in seen or len(seen) < MAX_DISTINCT:
                        seen[value] = seen.get(value, 0) + more[value]
            return
        self.total += other.total
        self.lo = min(self.lo, other.lo)
        self.hi = max(self.hi, other.hi)
        for sample in other.samples or ():
            self._sample(sample, rng)

    def _distinct(self) -> dict[str, int]:
        """The values seen with their counts (a set saved by an older version counts each once)."""
        if not isinstance(self.distinct, dict):
            self.distinct = dict.fromkeys(self.distinct or (), 1)
        return self.distinct

    def _sample(self, value: float, rng: random.Random) -> None:
        if self.samples is None:
            self.samples = []
        self.seen += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(value)
        else:
            j = rng.randrange(self.seen)
            if j < MAX_SAMPLES:
                self.samples[j] = value

    def value(self, aggregation: str, min_count: int = 0) -> float | None:
        """The window's value, or None when it has too few events to have one."""
        n = self.count
        if aggregation == "count":
            return float(n)
        if aggregation == "distinct":
            return float(len(self.distinct or ()))
        if aggregation == "sum":
            return self.total
        if n == 0 or n < min_count:
            return None
        if aggregation in ("avg", "rate", "ratio"):
            return self.total / n
        if aggregation == "min":
            return self.lo
        if aggregation == "max":
            return self.hi
        return percentile(self.samples or [], PERCENTILES[aggregation])


def empty_value(aggregation: str) -> float | None:
    """The value of a window without events: 0 for counts and sums, else undefined."""
    return 0.0 if aggregation in ("count", "sum", "distinct") else None


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolation percentile (numpy's default method) of a small list."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def window_start(t: float, interval: float) -> float:
    """Start of the tumbling window of length `interval` (aligned to the epoch) holding t."""
    return (t // interval) * interval
