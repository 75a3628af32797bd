"""The Page-Hinkley test (a CUSUM of deviations from the running mean), with its state public.

`ChangePoint` needs the statistic as it would be after one more point, without learning it,
so it reads the running sums; these are this class's own attributes, not a library's private
ones. The arithmetic, in the same order, is that of river's `drift.PageHinkley` (river is
BSD-3-Clause licensed, Copyright (c) 2020, the river developers), so scores are unchanged from
when river's class held this state.

>>> ph = PageHinkley(min_points=5, delta=0.0, threshold=3.0, mode="up")
>>> for x in [0.0] * 10 + [2.0] * 3:
...     ph.update(x)
>>> ph.drift_detected
True
"""

from __future__ import annotations

import math


class PageHinkley:
    """Flags a lasting rise (`mode="up"`), fall (`"down"`) or either (`"both"`) of the mean:
    the cumulative deviation from the running mean, less `delta` per point, has moved more
    than `threshold` from its extreme. After a detection the next update starts afresh."""

    __slots__ = (
        "alpha",
        "delta",
        "drift_detected",
        "max_decrease",
        "mean",
        "min_increase",
        "min_points",
        "mode",
        "n",
        "sum_decrease",
        "sum_increase",
        "threshold",
    )

    def __init__(
        self,
        min_points: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1.0,
        mode: str = "both",
    ) -> None:
        if mode not in ("up", "down", "both"):
            raise ValueError(f"mode must be up, down or both, not {mode!r}")
        self.min_points = min_points
        self.delta = delta
        self.threshold = threshold
        self.alpha = alpha  # forgetting factor of the sums (1: none)
        self.mode = mode
        self.reset()

    def reset(self) -> None:
        self.drift_detected = False
        self.n = 0.0  # points since the last reset, and their mean
        self.mean = 0.0
        self.sum_increase = 0.0
        self.sum_decrease = 0.0
        self.min_increase = math.inf
        self.max_decrease = -1.0

    def update(self, x: float) -> None:
        if self.drift_detected:
            self.reset()
        self.n += 1.0
        self.mean += (1.0 / self.n) * (x - self.mean)
        dev = x - self.mean
        self.sum_increase = self.alpha * self.sum_increase + dev - self.delta
        self.sum_decrease = self.alpha * self.sum_decrease + dev + self.delta
        self.min_increase = min(self.min_increase, self.sum_increase)
        self.max_decrease = max(self.max_decrease, self.sum_decrease)
        if self.n >= self.min_points:
            rise = self.sum_increase - self.min_increase > self.threshold
            fall = self.max_decrease - self.sum_decrease > self.threshold
            self.drift_detected = {"up": rise, "down": fall, "both": rise or fall}[self.mode]
