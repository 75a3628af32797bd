"""The anomaly likelihood, a windowed Gaussian test and a level shift vote, the most surprised
speaking.

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
  remembers the old level), and spikes of a size that recurs, do not each raise an alarm;
- a level shift vote (`detectors.level_shift`): the mean of the last `shift_points` values,
  each standardised against the window, in spreads of that mean learned from the series, its
  tail probability weighted by `shift_weight` as the Gaussian test's is. A single point must
  be far out to pass the Gaussian test over the largest of its quiet period; a step of six to
  eight standard deviations whose first point lands a little low was missed (about one in
  sixteen eight-sd steps on noise), while its mean over three points stands clear. The vote
  says nothing when it does not count in full: the step's aftermath is the other tests'. Nor
  when its mean, read as a single point, does not pass every point the Gaussian test saw in
  the quiet period before the mean's points: on real metrics three high points in a row as
  far out as single points went lately (a burst of traffic, a heavy-tailed count, a square
  wave's next edge) are no new level, and a vote on them was a false alarm.

The score is the loudest vote's, and 0 when it does not pass every such score of the last
`repeat` points: each vote's quiet period keeps a quarter of a score it damps, and on real
metrics the points right after an excursion (the rest of a burst, a spike's echo, a step's
next points) then ranked with the excursion itself, each a false alarm at any threshold low
enough to catch the quieter anomalies.

The window's sums are kept exactly (recomputed from the window every `gauss_window` points),
so an update costs a few arithmetic operations whatever the window's length.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, fields
from typing import Any

from detectors.level_shift import LevelShift, tail_of
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
    likelihood at a tail probability raised to this power). shift_points, shift_weight: the
    level shift vote's points averaged, and its weight (as gauss_weight). repeat: the points
    after a score during which a score counts only if it passes it (0, or a `refractory` of
    0: every score counts).
    """

    gauss_window: int = 500
    gauss_weight: float = 0.5
    shift_points: int = 3
    shift_weight: float = 0.8
    repeat: int = 10


def likelihood_params(p: EnsembleParams) -> LikelihoodParams:
    """The likelihood part's own params."""
    return LikelihoodParams(**{f.name: getattr(p, f.name) for f in fields(LikelihoodParams)})


class Ensemble(WindowModel[EnsembleParams, float, float]):
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
        "before",
        "last",
        "like",
        "p",
        "pending",
        "quiet",
        "recent",
        "ref",
        "shift",
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
        self.shift = LevelShift(self.p.shift_points, self.p.memory, self.p.refractory)
        # the Gaussian test's largest score of the quiet period before the vote's points: the
        # scores of those points wait in `pending` until they leave the vote's mean
        self.before = QuietPeriod(self.p.refractory)
        self.pending: deque[float] = deque(maxlen=max(1, self.p.shift_points - 1))
        # the combined scores of the last `repeat` points, and the last point scored with its
        # score (so that learning it need not score it again)
        self.recent: deque[float] = deque(maxlen=max(1, self.p.repeat))
        self.last: tuple[float, float, int, float] | None = None

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        _, saved = state
        if "quiet" not in saved:  # kept in the model's own fields before
            saved = dict(saved)
            saved["quiet"] = from_saved(saved, saved["p"].refractory)
        if "shift" not in saved:  # saved before the level shift vote: it learns from here
            p = saved["p"]
            saved = {**saved, "shift": LevelShift(p.shift_points, p.memory, p.refractory)}
        restore_slots(self, (None, saved))

    def spawn(self) -> Ensemble:
        """A model for a new key that starts from this one's sense of normal: the likelihood's
        (see `AnomalyLikelihood.spawn`) and the Gaussian test's window."""
        child = Ensemble(self.p)
        child.like = self.like.spawn()
        child.window.extend(self.window)
        child.ref, child.sum, child.sumsq = self.ref, self.sum, self.sumsq
        child.shift = self.shift.spawn()
        child.before = self.before.copy()
        return child

    def is_warm(self, t: float, warmup: float) -> bool:
        return self.like.is_warm(t, warmup)

    def _moments(self) -> tuple[float, float]:
        n = len(self.window)
        shift = self.sum / n
        var = max(0.0, (self.sumsq - n * shift * shift) / (n - 1))
        return self.ref + shift, math.sqrt(var)

    def _standardised(self, v: float) -> float:
        """The value in standard deviations of the window from its mean (0 when the window
        has no spread to measure in)."""
        if len(self.window) < 2:
            return 0.0
        mean, sd = self._moments()
        if not sd > 1e-12 * (abs(mean) + 1e-300):
            return 0.0
        return (v - mean) / sd

    def _shift_score(self, v: float) -> float:
        """The level shift vote's score: in full when it counts, else nothing. It counts when
        its z passes its own quiet period's, and its mean, read as a single point, passes
        every point the Gaussian test saw in the quiet period before the mean's points: a
        burst of a size that single points reach lately is no new level."""
        u = self._standardised(v)
        z = self.shift.z(u, self.p.direction)
        if not z > 0.0:
            return 0.0
        tail = 2.0 * math.log10(self.p.tail)
        raw = self.p.shift_weight * math.log10(tail_of(z, self.p.direction)) / tail
        if self.p.refractory <= 0:
            return min(1.0, raw)
        mean = self.shift.mean_with(u) or 0.0
        as_point = self.p.gauss_weight * math.log10(tail_of(abs(mean), self.p.direction)) / tail
        if self.shift.counts(z, self.p.direction) and as_point > self.before.bar():
            return min(1.0, raw)
        return 0.0

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

    def votes(self, x: float, t: float, n: int = 0) -> dict[str, float]:
        """Each vote's score for x, quiet periods applied: the score is the largest of them
        (capped at 1), so they say which test raised an alarm or stayed silent on a miss.
        Before `min_points` only the likelihood speaks."""
        out = {"likelihood": self.like.score_one(x, t, n)}
        if self.like.n >= self.p.min_points:
            out["gaussian"] = self._gauss_score(x)
            out["level_shift"] = self._shift_score(x)
        return out

    def _repeats(self) -> bool:
        """Whether repeats are suppressed: not when asked to score every point in full."""
        return self.p.repeat > 0 and self.p.refractory > 0

    def _combined(self, x: float, t: float, n: int) -> float:
        """The loudest vote's score, before repeats are suppressed."""
        last = self.last
        if last is not None and last[0] == x and last[1] == t and last[2] == n:
            return last[3]
        return min(1.0, max(self.votes(x, t, n).values()))

    def score_one(self, x: float, t: float, n: int = 0) -> float:
        """The loudest vote's score if it passes every such score of the last `repeat`
        points, else 0: an excursion that lasts, or comes back within a few points, is
        announced once, on its most surprising point so far."""
        s = min(1.0, max(self.votes(x, t, n).values()))
        self.last = (x, t, n, s)
        if self._repeats() and self.recent and not s > max(self.recent):
            return 0.0
        return s

    def describe(self, x: float, t: float, n: int = 0) -> dict[str, Any]:
        out = self.like.describe(x, t, n)
        out["window_tail_probability"] = float(f"{self._gauss_p(x):.3g}")
        out["shift_z"] = round(self.shift.z(self._standardised(x), self.p.direction), 3)
        return out

    def learn_one(self, x: float, t: float, n: int = 0) -> None:
        if self._repeats():
            self.recent.append(self._combined(x, t, n))
        self.last = None
        v = x
        announced = False
        if self.like.n >= 2 and self.p.refractory > 0:
            raw = self._gauss_raw(v)
            announced = raw > self.quiet.bar() + _MARGIN
            self.quiet.remember(raw)
            if len(self.pending) == self.pending.maxlen:
                self.before.remember(self.pending[0])
            self.pending.append(raw)
        self.shift.learn(self._standardised(v), self.p.direction, announced)
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
