"""Half-Space Trees (river) over several metrics of one key at once."""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from river import anomaly

from detectors.persist import restore_slots
from detectors.quiet_period import remember_scored, repeat_period, unrepeated
from detectors.rollup import Accumulator
from detectors.scoring import TAIL_Z, deviation_score, robust_step, tail_step
from detectors.window_model import WindowModel


@dataclass(frozen=True)
class HalfSpaceParams:
    """z: how far (in sigmas of the forest's own score distribution) scores 0.5; the raw
    HST score is bounded by 1, a few sigmas above its usual level, hence the small default.

    n_trees/height/window_size: river's HalfSpaceTrees knobs; alpha: learning rate of each
    metric's standardiser.

    point_z (0: off): beside the forest, each metric's own deviation from its baseline, in
    sigmas, that scores 0.5 (the Shewhart test the EWMA chart and the change-point test also
    carry). The forest measures how rarely the window visits a region, and every region
    beyond a few sigmas is visited never: a point three sigmas out and one a hundred out
    score alike there, and on one metric the forest ranks spikes no better than noise. The
    point test ranks them by size. repeat (0: off): the points after a score during which a
    score counts only if it passes it (see `quiet_period.unrepeated`), so that an excursion
    is announced once, not on each point the baseline still lags behind it.
    """

    z: float = 2.5
    n_trees: int = 10
    height: int = 6
    window_size: int = 250
    alpha: float = 0.02
    min_points: int = 30
    seed: int = 7
    point_z: float = 0.0
    repeat: int = 0


class Forest:
    """One river HalfSpaceTrees shared by every key of a detector, plus its score calibration.

    The keys feed it their own standardised deviations, so the forest learns which
    combinations of deviations are usual; sharing it keeps memory per key tiny. The trees
    score nothing until their first window of `window_size` points is in (`learned` counts
    them), so the calibration starts after it.
    """

    __slots__ = ("hst", "learned", "loc", "n", "scale", "window_size")

    def __init__(self, p: HalfSpaceParams) -> None:
        self.hst = anomaly.HalfSpaceTrees(
            n_trees=p.n_trees, height=p.height, window_size=p.window_size, seed=p.seed
        )
        self.window_size = p.window_size
        self.learned = 0
        self.loc = 0.0
        self.scale = 0.0
        self.n = 0

    def __setstate__(self, state: tuple[Any, dict[str, Any]]) -> None:
        """A forest saved before `learned` existed: in its first window `n` is still 0 and the
        trees' own counter is the number of points learned; after it, the window is done."""
        for name, value in state[1].items():
            setattr(self, name, value)
        if not hasattr(self, "learned"):
            self.window_size = self.hst.window_size
            self.learned = self.hst.counter if self.n == 0 else self.window_size

    def raw(self, features: dict[str, float]) -> float:
        return float(self.hst.score_one(features))

    def learn(self, features: dict[str, float]) -> None:
        raw = self.raw(features)
        self.hst.learn_one(features)
        self.learned += 1
        if self.learned < self.window_size:  # the trees' first window: they score nothing yet
            return
        self.n += 1
        alpha = max(1.0 / self.n, 0.01)
        clip = 3.0 if self.n > 50 else math.inf
        self.loc, self.scale = robust_step(self.loc, self.scale, raw, alpha, clip, 1e-3)

    def calibrated_z(self, raw: float) -> float:
        return (raw - self.loc) / max(self.scale, 1e-3)


class HalfSpaceScorer(WindowModel[HalfSpaceParams, Sequence[float | None], Sequence[float | None]]):
    """Multi-metric outlier score for one key: unusual combinations of its metrics.

    Each metric is standardised against the key's own robust baseline and squashed into
    [0, 1] (what HalfSpaceTrees expects); the shared forest scores the point, and the raw
    score is compared with the forest's usual scores. Anomalous means: this key's metrics
    together sit in a region of the space that the recent window rarely visits. Missing
    metrics (None) are allowed.

    >>> m = HalfSpaceScorer(HalfSpaceParams(window_size=50))
    >>> for i in range(600):
    ...     m.learn_one([10.0 + (i % 5), 100.0 + (i % 7)], float(i))
    >>> m.score_one([12.0, 103.0], 600.0) < 0.5 < m.score_one([60.0, 20.0], 600.0)
    True
    """

    __slots__ = ("forest", "loc", "n", "p", "quiet", "scale", "tails")
    Params = HalfSpaceParams

    def __init__(self, params: HalfSpaceParams | None = None, forest: Forest | None = None) -> None:
        self.p = params or HalfSpaceParams()
        self.forest = forest or Forest(self.p)
        self.loc = array("d")
        self.scale = array("d")
        self.n = 0
        self.quiet = repeat_period(self.p.repeat)  # the scores of the last `repeat` points
        self.tails = array("d")  # each metric's usual deviation size (see `_point_z`)

    def __setstate__(self, state: tuple[Any, dict[str, Any]]) -> None:
        """A scorer saved before `quiet` and `tails` existed takes what its params ask for."""
        restore_slots(self, state)

    def spawn(self) -> HalfSpaceScorer:
        child = HalfSpaceScorer(self.p, self.forest)
        child.loc, child.scale, child.n = array("d", self.loc), array("d", self.scale), self.n
        child.quiet = None if self.quiet is None else self.quiet.copy()
        child.tails = array("d", self.tails)
        return child

    def is_warm(self, t: float, warmup: float) -> bool:
        return self.n >= self.p.min_points

    def _features(self, xs: Sequence[float | None]) -> dict[str, float]:
        features = {}
        for i, x in enumerate(xs):
            if x is None or i >= len(self.loc):
                continue
            sigma = max(self.scale[i], 1e-6 * (abs(self.loc[i]) + 1e-6))
            features[f"m{i}"] = 0.5 + 0.5 * math.tanh((x - self.loc[i]) / (4.0 * sigma))
        return features

    def score_one(self, xs: Sequence[float | None], t: float, n: int = 0) -> float:
        return unrepeated(self._score(xs), self.quiet, tuple(xs))

    def score_in_alert(self, xs: Sequence[float | None], t: float, n: int = 0) -> float:
        return self._score(xs)

    def _score(self, xs: Sequence[float | None]) -> float:
        """The score before repeats are suppressed: the forest's, or the point test's when
        it is on and louder."""
        if self.n < self.p.min_points:
            return 0.0
        score = 0.0
        # the forest's calibration needs a few of its scores first: on its first one the
        # spread is 0 and any score is infinitely far out (a false alarm on every series)
        if self.forest.n >= self.p.min_points:
            z = self.forest.calibrated_z(self.forest.raw(self._features(xs)))
            score = deviation_score(z, self.p.z)
        if self.p.point_z > 0.0:
            score = max(score, deviation_score(self._point_z(xs), self.p.point_z))
        return score

    def _point_z(self, xs: Sequence[float | None]) -> float:
        """The largest deviation of a metric from its baseline, in its sigmas (unclipped),
        sigma at least the usual deviation's size over 2.33 (its 98th percentile, as the EWMA
        chart floors its own): a heavy-tailed metric's ordinary spikes are no news."""
        out = 0.0
        for i, x in enumerate(xs):
            if x is None or i >= len(self.tails) or self.loc[i] != self.loc[i]:
                continue
            floor = max(1e-6 * (abs(self.loc[i]) + 1e-6), self.tails[i] / TAIL_Z)
            sigma = max(self.scale[i], floor)
            out = max(out, abs(x - self.loc[i]) / sigma)
        return out

    def describe(self, xs: Sequence[float | None], t: float, n: int = 0) -> dict[str, Any]:
        return {"values": list(xs), "expected": [round(v, 6) for v in self.loc]}

    def learn_one(self, xs: Sequence[float | None], t: float, n: int = 0) -> None:
        if self.quiet is not None:
            remember_scored(self.quiet, tuple(xs), lambda: self._score(xs))
        while len(self.loc) < len(xs):
            self.loc.append(math.nan)
            self.scale.append(0.0)
        self.n += 1
        if self.n > self.p.min_points // 2:
            self.forest.learn(self._features(xs))
        alpha = max(1.0 / self.n, self.p.alpha)
        clip = 3.0 if self.n > self.p.min_points else math.inf
        for i, x in enumerate(xs):
            if x is None:
                continue
            if self.loc[i] != self.loc[i]:
                self.loc[i] = x
                continue
            if self.p.point_z > 0.0:
                while len(self.tails) <= i:
                    self.tails.append(0.0)
                self.tails[i] = tail_step(self.tails[i], abs(x - self.loc[i]))
            self.loc[i], self.scale[i] = robust_step(
                self.loc[i], self.scale[i], x, alpha, clip, self.scale[i]
            )

    # -- window rules: a point is every metric's value at once; empty windows are no point.

    @classmethod
    def point(
        cls, accs: Sequence[Accumulator], aggregations: Sequence[str], min_count: int
    ) -> list[float | None] | None:
        if not accs:
            return None
        values = [a.value(agg, min_count) for a, agg in zip(accs, aggregations, strict=True)]
        return None if all(v is None for v in values) else values

    @classmethod
    def empty_point(cls, aggregations: Sequence[str]) -> None:
        return None

    @classmethod
    def series_point(cls, value: float, raw: str) -> list[float]:
        return [value]

    @classmethod
    def check_spec(
        cls,
        kind: str,
        aggregations: Sequence[str],
        group_by: Sequence[str],
        params: Mapping[str, Any],
        budgets: Mapping[str, float],
    ) -> None:
        if len(aggregations) < 2:
            raise ValueError("kind 'hst' watches several metrics: give `metrics` (two or more)")
