"""Change-point detection: level shifts and slow drifts, with a Page-Hinkley test or river's ADWIN."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from river import drift

from detectors.page_hinkley import PageHinkley
from detectors.persist import restore_slots
from detectors.quiet_period import remember_scored, repeat_period, unrepeated
from detectors.scoring import (
    TAIL_Z,
    deviation_score,
    directed,
    log_scale,
    robust_step,
    tail_step,
)
from detectors.window_model import WindowModel

_TYPICAL = 3.0  # sigmas: larger deviations do not teach the autocorrelation
_SETTLED = 0.25  # share of the threshold below which no change is under way


@dataclass(frozen=True)
class ChangePointParams:
    """threshold: Page-Hinkley lambda in sigmas (the cumulative drift that scores 0.5).

    delta: the per-point drift (in sigmas) tolerated as noise. method: page_hinkley|adwin.
    With delta 0.5 and threshold 10 (the classic CUSUM k = 0.5, h = 10), Siegmund's
    approximation puts the mean run between false alarms on in-control Gaussian points at
    about 1.4e5 points (four years of 15-minute windows per key), while a sustained shift of
    one sigma is flagged after about 20 points and of two sigmas after about 7.
    transform: none, or log for a positive, multiplicative metric (tokens per call, latency,
    spend): changes are then relative and the long right tail of such a metric is made
    symmetric, which the one-sided sum assumes (on the raw values it alarms far sooner).
    Computed as log(1 + max(x, 0)).
    repeat: the points after a score during which a score counts only if it passes it (0:
    every score counts); a change is then announced once, not again while the test's
    statistic stays high or climbs back (see `quiet_period.unrepeated`).
    point_z (0: off): a Shewhart test beside the cumulative sum, the combined Shewhart-CUSUM
    scheme of Lucas: the point's own deviation from the baseline, unclipped, in sigmas of the
    points, that scores 0.5. The sum clips each point at `clip` sigmas so that a lone spike
    cannot look like a change; that also leaves it blind to the spike, and slow to a sudden
    large shift. The point test speaks on both at once and ranks a spike by its size. Off for
    the dataflow's drift detector, which watches for lasting changes only; `spanwatch score`
    turns it on (see `detectors.cli.SCORE_PARAMS`).
    """

    threshold: float = 10.0
    delta: float = 0.5
    direction: str = "both"
    method: str = "page_hinkley"
    min_points: int = 30
    alpha: float = 0.005
    clip: float = 5.0
    transform: str = "none"
    repeat: int = 0
    point_z: float = 0.0


class ChangePoint(WindowModel[ChangePointParams, float, float]):
    """A lasting change of the mean: Page-Hinkley's cumulative sum of standardised deviations.

    Points are standardised against a long-memory robust baseline and clipped to `clip`
    sigmas, so a lone spike cannot look like a change; a level shift or a slow drift adds up
    until the Page-Hinkley statistic crosses `threshold` sigmas (score 0.5). After a change
    the baseline restarts from the new level. With method="adwin", river's ADWIN on the (transformed)
    values decides instead, and the score is 1 at a detected change, else 0.

    >>> m = ChangePoint(ChangePointParams(direction="up"))
    >>> scores = []
    >>> for i in range(400):
    ...     x = 10.0 + (i % 7) * 0.1 + (3.0 if i >= 300 else 0.0)
    ...     scores.append(m.score_one(x, float(i)))
    ...     m.learn_one(x, float(i))
    >>> max(scores[:300]) < 0.1 and max(scores[300:330]) > 0.5
    True
    """

    __slots__ = ("c0", "c1", "detector", "loc", "n", "p", "prev", "quiet", "scale", "tail")
    Params = ChangePointParams

    def __init__(self, params: ChangePointParams | None = None) -> None:
        self.p = params or ChangePointParams()
        self.loc = 0.0
        self.scale = 0.0
        self.n = 0
        self.detector = self._new_detector()
        self.c0 = self.c1 = self.prev = 0.0
        self.quiet = repeat_period(self.p.repeat)  # the scores of the last `repeat` points
        self.tail = 0.0  # the usual size of a deviation (98th percentile), see `_point_z`

    def __setstate__(self, state: tuple[Any, dict[str, Any]]) -> None:
        """A model saved while river's Page-Hinkley class held the test starts the test's sums
        afresh (its baseline and noise scale are kept)."""
        restore_slots(self, state)
        if self.p.method != "adwin" and not isinstance(self.detector, PageHinkley):
            self.detector = self._new_detector()

    def _new_detector(self) -> PageHinkley | drift.ADWIN:
        if self.p.method == "adwin":
            return drift.ADWIN()
        mode = {"up": "up", "down": "down"}.get(self.p.direction, "both")
        return PageHinkley(
            min_points=self.p.min_points,
            delta=self.p.delta,
            threshold=self.p.threshold,
            alpha=1.0,
            mode=mode,
        )

    def spawn(self) -> ChangePoint:
        child = ChangePoint(self.p)
        child.loc, child.scale = self.loc, self.scale
        return child

    def is_warm(self, t: float, warmup: float) -> bool:
        return self.n >= self.p.min_points

    def _z(self, x: float) -> float:
        sigma = max(self.scale, 1e-6 * (abs(self.loc) + 1e-6))
        z = (x - self.loc) / sigma
        return max(-self.p.clip, min(self.p.clip, z))

    def _inflation(self) -> float:
        """How much further a sum of the standardised deviations wanders than a sum of
        independent ones: sqrt((1 + rho) / (1 - rho)) for lag-one autocorrelation rho.
        Real metrics are autocorrelated (a warm hour follows a warm hour); the cumulative
        sum assumes independence and, fed raw, alarms on every slow wander."""
        if not self.c0 > 0.0:
            return 1.0
        rho = min(max(self.c1 / self.c0, 0.0), 0.95)
        return math.sqrt((1.0 + rho) / (1.0 - rho))

    def _statistic(self, x: float) -> float:
        """The Page-Hinkley statistic as it would be after learning x (without learning it)."""
        ph = self.detector
        if ph.drift_detected or not isinstance(ph, PageHinkley):
            return 0.0
        z = self._z(x) / self._inflation()
        m = (ph.mean * ph.n + z) / (ph.n + 1)
        dev = z - m
        inc = ph.sum_increase + dev - ph.delta
        dec = ph.sum_decrease + dev + ph.delta
        up = inc - min(ph.min_increase, inc)
        down = max(ph.max_decrease, dec) - dec
        if self.p.direction == "up":
            return up
        if self.p.direction == "down":
            return down
        return max(up, down)

    def _tx(self, x: float) -> float:
        return log_scale(x) if self.p.transform == "log" else x

    def score_one(self, x: float, t: float, n: int = 0) -> float:
        return unrepeated(self._score(x), self.quiet, x)

    def score_in_alert(self, x: float, t: float, n: int = 0) -> float:
        return self._score(x)

    def _score(self, x: float) -> float:
        """The score before repeats are suppressed."""
        x = self._tx(x)
        if self.n < self.p.min_points:
            return 0.0
        if self.p.method == "adwin":
            return 1.0 if self.detector.drift_detected else 0.0
        score = deviation_score(self._statistic(x), self.p.threshold)
        if self.p.point_z > 0.0:
            score = max(score, deviation_score(self._point_z(x), self.p.point_z))
        return score

    def _point_z(self, x: float) -> float:
        """The point's own deviation from the baseline in the watched direction, in sigmas
        (unclipped: the Shewhart test of the combined scheme ranks spikes by their size).

        Sigma is at least the usual deviation's size over 2.33 (its 98th percentile, as the
        EWMA chart floors its own): on a heavy-tailed metric a point six robust sigmas out
        is an ordinary day, and the test speaks only past what the metric's spikes reach."""
        sigma = max(self.scale, 1e-6 * (abs(self.loc) + 1e-6), self.tail / TAIL_Z)
        return directed((x - self.loc) / sigma, self.p.direction)

    def describe(self, x: float, t: float, n: int = 0) -> dict[str, Any]:
        if self.p.transform == "log":
            return {
                "value": x,
                "baseline": round(math.expm1(self.loc), 6),
                "log_sigma": round(self.scale, 6),
                "change_sigmas": round(self._statistic(self._tx(x)), 3),
            }
        return {"value": x, "baseline": round(self.loc, 6), "sigma": round(self.scale, 6)}

    def learn_one(self, x: float, t: float, n: int = 0) -> None:
        if self.quiet is not None:
            remember_scored(self.quiet, x, lambda: self._score(x))
        x = self._tx(x)
        self.n += 1
        if self.n == 1:
            self.loc = x
            return
        if self.p.method == "adwin":
            self.detector.update(x)
            return
        alpha = max(1.0 / self.n, self.p.alpha)
        warm = self.n > self.p.min_points
        z = self._z(x)
        # A change under way must not teach the model that it is normal. Half-way to the
        # alert, the noise scale stops learning; a quarter of the way already, the
        # autocorrelation: a creep's run of same-signed deviations looks like a slow wander
        # and, learned, inflates away the creep's own evidence (on a young baseline, whose
        # autocorrelation rests on a few dozen points, within hours).
        statistic = self._statistic(x) if warm else 0.0
        in_control = statistic < 0.5 * self.p.threshold
        settled = statistic < _SETTLED * self.p.threshold
        if settled and abs(z) < _TYPICAL:
            # lag-one autocorrelation of in-control deviations: a long-run property, so at
            # the baseline's slow rate (the ratio of the two sums is unbiased from the start)
            self.c0 += self.p.alpha * (z * z - self.c0)
            self.c1 += self.p.alpha * (z * self.prev - self.c1)
        self.prev = z
        self.detector.update(z / self._inflation())
        if self.detector.drift_detected:
            # The mean has moved: start the baseline again from here (keep the noise scale).
            self.loc, self.n = x, 1
            return
        if self.p.point_z > 0.0:
            self.tail = tail_step(self.tail, abs(x - self.loc))
        clip = self.p.clip if warm else math.inf
        self.loc, scale = robust_step(self.loc, self.scale, x, alpha, clip, self.scale)
        if in_control:
            self.scale = scale
