"""EWMA control chart: small sustained shifts of the mean, with a robust online baseline."""

from __future__ import annotations

import math
from dataclasses import dataclass

from detectors.scoring import deviation_score, directed, noise_floor, robust_step


@dataclass(frozen=True)
class EwmaParams:
    """z: chart deviation (in sigmas of the EWMA statistic) that scores 0.5.

    lam: weight of the newest point in the chart statistic (small = sensitive to small,
    sustained shifts; 1 = Shewhart chart). alpha: learning rate of the in-control baseline.
    step: seconds between points (the interval): the chart statistic forgets by elapsed
    time, so a key that skips windows (too few events) does not carry an old excursion
    into its next active hours.
    """

    z: float = 4.0
    direction: str = "both"
    lam: float = 0.3
    alpha: float = 0.02
    clip: float = 3.0
    min_points: int = 12
    adapt_after: int = 48
    noise: str = "none"
    step: float = 300.0


class EwmaChart:
    """Exponentially weighted moving average chart against a robust in-control baseline.

    Anomalous means: the EWMA of recent points sits more than `z` of its own standard
    deviation (sigma * sqrt(lam / (2 - lam))) away from the learned in-control mean.
    The baseline (mean and sigma) learns slowly and with Huber clipping, so an incident does
    not become the baseline until it persists for `adapt_after` points.

    >>> m = EwmaChart(EwmaParams(direction="up"))
    >>> for i in range(200):
    ...     m.learn_one(100.0 + (i % 5), float(i))
    >>> m.score_one(102.0, 200.0) < 0.05
    True
    >>> m.score_one(140.0, 200.0) > 0.9
    True
    """

    __slots__ = ("ewma", "loc", "n", "p", "run", "scale", "t_last", "unit")

    def __init__(self, params: EwmaParams | None = None) -> None:
        self.p = params or EwmaParams()
        self.loc = 0.0
        self.scale = 0.0
        self.ewma = 0.0
        self.n = 0
        self.run = 0
        self.unit = 0.0
        self.t_last = -math.inf

    def spawn(self) -> EwmaChart:
        child = EwmaChart(self.p)
        child.loc, child.scale, child.ewma, child.n = self.loc, self.scale, self.loc, self.n
        child.unit = self.unit
        return child

    def is_warm(self, t: float, warmup: float) -> bool:
        return self.n >= self.p.min_points

    def _sigma(self, n: int = 0) -> float:
        sigma = max(self.scale, 1e-6 * (abs(self.loc) + 1e-6))
        return max(sigma, noise_floor(self.p.noise, self.loc, n, self.unit))

    def _previous(self, t: float) -> float:
        """The chart statistic carried to the point at t: windows skipped since the last
        point count as in-control ones (weight (1 - lam) each), as if the chart had seen them."""
        gap = (t - self.t_last) / self.p.step if self.p.step > 0 else 1.0
        if not gap > 1.5:
            return self.ewma
        return self.loc + (1.0 - self.p.lam) ** (round(min(gap, 1e6)) - 1) * (self.ewma - self.loc)

    def chart_z(self, x: float, n: int = 0, t: float = -math.inf) -> float:
        lam = self.p.lam
        e = lam * x + (1.0 - lam) * self._previous(t)
        return (e - self.loc) / (self._sigma(n) * math.sqrt(lam / (2.0 - lam)))

    def score_one(self, x: float, t: float, n: int = 0) -> float:
        if self.n < self.p.min_points:
            return 0.0
        return deviation_score(directed(self.chart_z(x, n, t), self.p.direction), self.p.z)

    def describe(self, x: float, t: float, n: int = 0) -> dict:
        return {
            "value": x,
            "expected": round(self.loc, 6),
            "sigma": round(self._sigma(n), 6),
            "z": round(self.chart_z(x, n, t), 3) if self.n else 0.0,
        }

    def learn_one(self, x: float, t: float, n: int = 0) -> None:
        p = self.p
        if n > 0 and x > 0.0 and p.noise == "compound":
            self.unit = x / n if self.unit <= 0.0 else self.unit + 0.02 * (x / n - self.unit)
        self.n += 1
        previous = self._previous(t)
        self.t_last = max(self.t_last, t)
        if self.n == 1:
            self.loc = self.ewma = x
            return
        learning = self.n <= p.min_points
        sigma = self._sigma(n)
        if not learning and abs(x - self.loc) > p.clip * sigma:
            self.run += 1
        else:
            self.run = 0
        clip = math.inf if learning or self.run >= p.adapt_after else p.clip
        alpha = max(1.0 / self.n, p.alpha)
        self.loc, self.scale = robust_step(self.loc, self.scale, x, alpha, clip, sigma)
        self.ewma = p.lam * x + (1.0 - p.lam) * previous
