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
    """

    z: float = 4.0
    direction: str = "both"
    lam: float = 0.3
    alpha: float = 0.02
    clip: float = 3.0
    min_points: int = 12
    adapt_after: int = 48
    noise: str = "none"


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

    __slots__ = ("ewma", "loc", "n", "p", "run", "scale", "unit")

    def __init__(self, params: EwmaParams | None = None) -> None:
        self.p = params or EwmaParams()
        self.loc = 0.0
        self.scale = 0.0
        self.ewma = 0.0
        self.n = 0
        self.run = 0
        self.unit = 0.0

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

    def chart_z(self, x: float, n: int = 0) -> float:
        lam = self.p.lam
        e = lam * x + (1.0 - lam) * self.ewma
        return (e - self.loc) / (self._sigma(n) * math.sqrt(lam / (2.0 - lam)))

    def score_one(self, x: float, t: float, n: int = 0) -> float:
        if self.n < self.p.min_points:
            return 0.0
        return deviation_score(directed(self.chart_z(x, n), self.p.direction), self.p.z)

    def describe(self, x: float, t: float, n: int = 0) -> dict:
        return {
            "value": x,
            "expected": round(self.loc, 6),
            "sigma": round(self._sigma(n), 6),
            "z": round(self.chart_z(x, n), 3) if self.n else 0.0,
        }

    def learn_one(self, x: float, t: float, n: int = 0) -> None:
        p = self.p
        if n > 0 and x > 0.0 and p.noise == "compound":
            self.unit = x / n if self.unit <= 0.0 else self.unit + 0.02 * (x / n - self.unit)
        self.n += 1
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
        self.ewma = p.lam * x + (1.0 - p.lam) * self.ewma
