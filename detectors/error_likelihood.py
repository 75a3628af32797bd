"""The anomaly likelihood of a model's own prediction errors, for a series scored on its own.

A chart or a seasonal profile predicts each point and measures the error in its own sigmas;
its score then maps that error through one fixed curve. Across metrics the same error means
different things: a noisy, autocorrelated metric strays five sigmas of the model every day, a
clean one never, and no single threshold fits both. The likelihood keeps the model's
prediction (what it is good at) and asks instead how unusual the error is *for this series*,
as the anomaly likelihood of the literature does with any predictor's raw errors:

- *point*: the error itself, against the long-run tail of the series' errors;
- *run*: the errors' short average (the last `average` points), against the long-run tail of
  that average: a level shift, a drift or a variance change whose single points are no spike;

each tail learned as the likelihood detector learns its own (`detectors.likelihood.ErrorTail`:
a running 95th percentile and a Pareto tail beyond it). The smaller tail probability, doubled
for the two tests, scores 0.5 at `tail` and 1 at its square. A score counts in full only when
it passes the largest of the last `refractory` points by half a decade of probability, else a
quarter of it (an excursion is announced once, not on its aftermath).

The model's own score still speaks, at `own_weight` (0.6) of its size: a tail learned from a
series whose history holds large errors reads a new, far larger one as more of the same, while
the model's fixed curve does not; weighted so, its alert point (0.5) scores 0.3 and only an
error far past it outranks the likelihood's surprises.

Only `spanwatch score` wraps models so (see `detectors.cli.SCORE_ERRORS`): the dataflow's
detectors keep their own scores, whose sizes their alert rules are written against.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from detectors.likelihood import ErrorTail
from detectors.quiet_period import QuietPeriod, damped
from detectors.scoring import log_scale

# A model's signed error for a point in its own sigmas, None while it cannot predict yet.
ErrorOf = Callable[[Any, float, float], float | None]

_DAMP = 0.25  # what a score inside the quiet period keeps
_MARGIN = 0.5  # decades of tail probability by which a score must pass the quiet period's
_CLIP = 20.0  # errors beyond this many sigmas count as this many in the run and the tails


def ewma_error(model: Any, x: float, t: float) -> float | None:
    """The EWMA chart's error: the point's deviation from its baseline (`point_z`)."""
    if model.n < model.p.min_points:
        return None
    v = log_scale(x) if model.p.transform == "log" else x
    z: float = model.point_z(v)
    return z


def seasonal_error(model: Any, x: float, t: float) -> float | None:
    """The seasonal profile's error: the residual from the expected value of the hour."""
    if model.stats.points < model.p.min_points:
        return None
    v = log_scale(x) if model.p.transform == "log" else x
    z: float = model.residual_z(v, t)[0]
    direction = model.p.direction
    return abs(z) if direction == "both" else (max(z, 0.0) if direction == "up" else max(-z, 0.0))


class ErrorLikelihood:
    """A model whose scores are the anomaly likelihood of its errors (module docstring)."""

    __slots__ = (
        "average",
        "error_of",
        "min_points",
        "model",
        "n",
        "own_weight",
        "quiet",
        "run",
        "tail",
        "tails",
    )

    def __init__(
        self,
        model: Any,
        error_of: ErrorOf,
        *,
        tail: float = 1e-4,
        average: int = 8,
        refractory: int = 500,
        min_points: int = 150,
        own_weight: float = 0.6,
    ) -> None:
        self.model, self.error_of = model, error_of
        self.tail, self.average, self.min_points = tail, average, min_points
        self.own_weight = own_weight
        self.n = 0  # errors learned
        self.run = 0.0  # the short average of the clipped errors
        self.tails = (ErrorTail(), ErrorTail())
        self.quiet = QuietPeriod(refractory)

    def _raw(self, e: float) -> tuple[float, float]:
        """(the surprise of error e on the score's scale, uncapped; the run with e)."""
        c = min(e, _CLIP)
        run = self.run + (c - self.run) / self.average
        point, long_run = self.tails
        p = min(1.0, 2.0 * min(point.p(c), long_run.p(run)))
        return math.log10(max(p, 1e-300)) / (2.0 * math.log10(self.tail)), run

    def score_one(self, x: float, t: float, n: int = 0) -> float:
        e = self.error_of(self.model, x, t)
        if e is None or self.n < self.min_points:
            return 0.0
        raw, _ = self._raw(e)
        s = damped(raw, self.quiet.bar(), _MARGIN / (-2.0 * math.log10(self.tail)), _DAMP)
        own: float = self.model.score_one(x, t, n)
        return max(s, self.own_weight * own)

    def learn_one(self, x: float, t: float, n: int = 0) -> None:
        e = self.error_of(self.model, x, t)
        if e is not None and math.isfinite(e):
            raw, run = self._raw(e)
            if self.n > 2:
                self.quiet.remember(raw)
            self.n += 1
            self.tails[0].learn(min(e, _CLIP), 1000)
            self.tails[1].learn(run, 1000)
            self.run = run
        self.model.learn_one(x, t, n)
