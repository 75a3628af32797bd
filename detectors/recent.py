"""Detector series around each alert, kept for a backtest report.

A report shows, for each detector incident, the key's points before and after it opened:
the window's value, the model's baseline (when the model has one), the score and the
threshold it crossed. Detector states do not keep their past points, so a replay that wants
a report hands its detectors a `RecentPoints`: each state tells it every point it scores
(`record`, before the model learns the point) and every window in which a key fires
(`alert`). It keeps the last `before` points of each key (at most `max_keys` keys, the least
recently scored forgotten first) and, once a key fires, that history plus the next `after`
points, for at most `max_alerts` alerts. The live engine hands none: nothing is kept.

>>> r = RecentPoints(before=2, after=1)
>>> for end, value in ((60.0, 1.0), (120.0, 2.0), (180.0, 9.0), (240.0, 1.0), (300.0, 1.0)):
...     r.record("spend", ("ann",), end, value, 0.9 if value > 5 else 0.1, 0.5, 1.5)
...     if value > 5:
...         r.alert("spend", ("ann",), end)
>>> [(p.end, p.value) for p in r.series()[0].points]
[(60.0, 1.0), (120.0, 2.0), (180.0, 9.0), (240.0, 1.0)]
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# What the models' `describe` calls the value they expect for a window, in order of preference.
BASELINE_KEYS = ("baseline", "expected", "mean")


def baseline_of(evidence: dict[str, Any]) -> float | None:
    """The expected value in a model's `describe` output, when it names one."""
    for key in BASELINE_KEYS:
        value = _number(evidence.get(key))
        if value is not None:
            return value
    return None


class ScoredPoint(NamedTuple):
    end: float  # the window's end, event time
    value: float | None
    score: float
    baseline: float | None


@dataclass
class AlertSeries:
    """One key's points around one alert (and the windows in which it kept firing)."""

    detector_id: str
    key: tuple[str, ...]
    threshold: float
    fired: list[float]
    points: list[ScoredPoint]
    remaining: int = field(default=0, repr=False)  # points still to collect after it


class RecentPoints:
    def __init__(
        self, before: int = 30, after: int = 15, max_keys: int = 100_000, max_alerts: int = 5000
    ) -> None:
        self.before, self.after = before, after
        self.max_keys, self.max_alerts = max_keys, max_alerts
        self.rings: OrderedDict[tuple[str, tuple[str, ...]], deque[ScoredPoint]] = OrderedDict()
        self.open: dict[tuple[str, tuple[str, ...]], AlertSeries] = {}
        self.alerts: list[AlertSeries] = []
        self.thresholds: dict[str, float] = {}
        self.dropped_alerts = 0
        self._lock = threading.Lock()  # replay's workers are threads of one process

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def record(
        self,
        detector_id: str,
        key: tuple[str, ...],
        end: float,
        value: object,
        score: float,
        threshold: float,
        baseline: object = None,
    ) -> None:
        """One scored point of one key (`value`, `baseline`: numbers, or anything else for
        none, such as the set of values a novelty detector saw)."""
        point = ScoredPoint(end, _number(value), float(score), _number(baseline))
        slot = (detector_id, key)
        with self._lock:
            self.thresholds[detector_id] = threshold
            ring = self.rings.pop(slot, None)
            if ring is None:
                ring = deque(maxlen=self.before + 1)
                if len(self.rings) >= self.max_keys:
                    self.rings.popitem(last=False)
            self.rings[slot] = ring
            ring.append(point)
            series = self.open.get(slot)
            if series is not None and series.fired[-1] < end:
                series.points.append(point)
                series.remaining -= 1
                if series.remaining <= 0:
                    del self.open[slot]

    def alert(self, detector_id: str, key: tuple[str, ...], end: float) -> None:
        """The key fires in the window ending at `end` (recorded just before)."""
        slot = (detector_id, key)
        with self._lock:
            series = self.open.get(slot)
            if series is not None:
                series.fired.append(end)
                series.remaining = self.after
                if not self.after:
                    del self.open[slot]
                return
            if len(self.alerts) >= self.max_alerts:
                self.dropped_alerts += 1
                return
            ring = self.rings.get(slot, ())
            series = AlertSeries(
                detector_id,
                key,
                self.thresholds.get(detector_id, math.nan),
                [end],
                list(ring),
                self.after,
            )
            self.alerts.append(series)
            if self.after:
                self.open[slot] = series

    def series(self) -> list[AlertSeries]:
        with self._lock:
            return list(self.alerts)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
