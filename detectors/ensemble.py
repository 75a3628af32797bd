"""The anomaly likelihood and a windowed Gaussian test, the more surprised of the two speaking.

The likelihood detector learns each test's tail from the series' own history, which is what
keeps a noisy metric quiet; the price is that a metric whose history already holds large
spikes learns to expect them, and a new, larger excursion reads as more of the same. A plain
Gaussian test against the last `gauss_window` points has the opposite bias: it knows nothing
of the series' tails, so it is loud on heavy-tailed metrics, but an excursion far outside the
recent spread always reaches it. Together they cover each other's blind spot:

- the Gaussian test's two-sided (or, with `direction`, one-sided) normal tail probability of
  the value under the mean and standard deviation of the window before it counts at
  `gauss_weight` of the likelihood's scale: at the default 0.5, a tail probability of 1e-10
  (about 6.4 standard deviations) scores what 1e-5 scores for the likelihood, so it speaks
  only when the value is far outside anything recent;
- it measures in the metric's own units even when the likelihood works on a log scale
  (`transform: log`): a burst that is large in absolute terms is not compressed away;
- it keeps the likelihood's quiet period (`refractory` points) on its own scores: one counts
  in full only when it passes the largest of that period by `_MARGIN`, and keeps a quarter
  otherwise, so that the points after a step (which stay far from a window that still
  remembers the old level), and spikes of a size that recurs, do not each raise an alarm.

The window's sums are kept exactly (recomputed from the window every `gauss_window` points),
so an update costs a few arithmetic operations whatever the window's length.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, fields
from typing import Any

from detectors.likelihood import AnomalyLikelihood, LikelihoodParams
from detectors.persist import restore_slots
from detectors.quiet_period import QuietPeriod, damped, from_saved
from detectors.scoring import directed
from detectors.window_model import WindowModel

_DAMP = 0.25  # what a Gaussian score inside its quiet period keeps
_MARGIN = 0.5  # by how much (on the score's scale) it must pass the quiet period's largest
_FLOOR = 1e-300  # the smallest tail probability (a value off a constant window)
_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class EnsembleParams(LikelihoodParams):
    """The likelihood's params (see `LikelihoodParams`), plus the Gaussian test's:

    gauss_window: the points its mean and standard deviation are taken over. gauss_weight:
    the weight of its tail probability against the likelihood's (its score is that of the
    likelihood at a tail probability raised to this power).
    """

    gauss_window: int = 500
    gauss_weight: float = 0.5


def likelihood_params(p: EnsembleParams) -> LikelihoodParams:
    """The likelihood part's own params."""
    return LikelihoodParams(**{f.name: getattr(p, f.name) for f in fields(LikelihoodParams)})


class Ensemble(WindowModel):
    """Anomalous means: the likelihood detector is surprised, or the value lies far outside
    the spread of the last `gauss_window` points and nothing as far came lately.

    >>> m = Ensemble()
    >>> xs = [10.0 + (i * 7919 % 13) / 13 for i in range(600)]
    >>> for i, x in enumerate(xs):
    ...     m.learn_one(x, 300.0 * i)
    >>> m.score_one(10.5, 300.0 * 600) < 0.1
    True
    >>> m.score_one(30.0, 300.0 * 600) == 1.0
    True
    """

    __slots__ = (
        "like",
        "p",
        "quiet",
        "ref",
        "since",
        "sum",
        "sumsq",
        "window",
    )
    Params = EnsembleParams

    def __init__(self, params: EnsembleParams | None = None) -> None:
        self.p = params or EnsembleParams()
        self.like = AnomalyLikelihood(likelihood_params(self.p))
        self.window: deque[float] = deque(maxlen=self.p.gauss_window)
        # sums of the window's values less `ref` (a recent mean, so that a large level with a
        # small spread loses no digits), recomputed exactly every `gauss_window` updates
        self.ref = 0.0
        self.sum = 0.0
        self.sumsq = 0.0
        self.since = 0  # updates since the sums were last recomputed from the window
        self.quiet = QuietPeriod(self.p.refractory)  # the Gaussian test's largest score

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        _, saved = state
        if "quiet" not in saved:  # kept in the model's own fields before
            saved = dict(saved)
            saved["quiet"] = from_saved(saved, saved["p"].refractory)
        restore_slots(self, (None, saved))

    def spawn(self) -> Ensemble:
        """A model for a new key that starts from this one's sense of normal: the likelihood's
        (see `AnomalyLikelihood.spawn`) and the Gaussian test's window."""
        child = Ensemble(self.p)
        child.like = self.like.spawn()
        child.window.extend(self.window)
        child.ref, child.sum, child.sumsq = self.ref, self.sum, self.sumsq
        return child

    def is_warm(self, t: float, warmup: float) -> bool:
        return self.like.is_warm(t, warmup)

    def _moments(self) -> tuple[float, float]:
        n = len(self.window)
        shift = self.sum / n
        var = max(0.0, (self.sumsq - n * shift * shift) / (n - 1))
        return self.ref + shift, math.sqrt(var)

    def _gauss_p(self, v: float) -> float:
        """The normal tail probability of the value under the window."""
        if len(self.window) < 2:
            return 1.0
        mean, sd = self._moments()
        d = directed(v - mean, self.p.direction)
        if not d > 0.0:
            return 1.0
        # a spread below rounding noise is no spread: the window is constant
        if not sd > 1e-12 * (abs(mean) + 1e-300):
            return _FLOOR
        p = math.erfc(d / sd / _SQRT2)
        if self.p.direction != "both":
            p *= 0.5
        return max(p, _FLOOR)

    def _gauss_raw(self, v: float) -> float:
        tail = 2.0 * math.log10(self.p.tail)
        return self.p.gauss_weight * math.log10(self._gauss_p(v)) / tail

    def _gauss_score(self, v: float) -> float:
        return damped(self._gauss_raw(v), self.quiet.bar(), _MARGIN, _DAMP)

    def score_one(self, x: float, t: float, n: int = 0) -> float:
        like = self.like.score_one(x, t, n)
        if self.like.n < self.p.min_points:
            return like
        return min(1.0, max(like, self._gauss_score(x)))

    def describe(self, x: float, t: float, n: int = 0) -> dict[str, Any]:
        out = self.like.describe(x, t, n)
        out["window_tail_probability"] = float(f"{self._gauss_p(x):.3g}")
        return out

    def learn_one(self, x: float, t: float, n: int = 0) -> None:
        v = x
        if self.like.n >= 2 and self.p.refractory > 0:
            self.quiet.remember(self._gauss_raw(v))
        self.like.learn_one(x, t, n)
        w = self.window
        if not w:
            self.ref = v
        if len(w) == w.maxlen:
            old = w[0] - self.ref
            self.sum -= old
            self.sumsq -= old * old
        w.append(v)
        d = v - self.ref
        self.sum += d
        self.sumsq += d * d
        self.since += 1
        if self.since >= self.p.gauss_window:
            # exact again, about the window's mean: sums of many additions and removals drift
            self.ref = math.fsum(w) / len(w)
            self.sum = math.fsum(u - self.ref for u in w)
            self.sumsq = math.fsum((u - self.ref) ** 2 for u in w)
            self.since = 0
