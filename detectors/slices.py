"""Slice baselines: one small model per single-dimension slice (team=platform, user=ann, ...).

A metric is watched across every value of every dimension at once, without a detector per
combination: each slice keeps an exponentially weighted baseline of its own, and a window's
value is judged against it by its sampling error at the window's size, inflated by how much
the slice has wandered beyond sampling error before (a dispersion factor learned online, as
quasi-likelihood models do). Which slices explain a departure is `detectors.slice_attribution`'s
business; `detectors.slice_state` assembles the windows.

Three measures, from the detector's aggregation:

- `ratio` (`rate`, `ratio`): the share of a slice's events that are hits (error rate, cache hits);
  the sampling error is binomial, with the baseline shrunk towards 1/2 by one event each way,
  so one error in a handful of calls is no news.
- `mean` (`avg`): the mean of log(1 + value) (latency, tokens per call: positive and heavy
  tailed, so a change is relative); the sampling error is the slice's learned per-event spread.
- `share` (`count`): the slice's share of all the window's events (call rate); the sampling
  error is binomial in the window's total, which takes out the daily rhythm every slice shares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from detectors.scoring import deviation_score, directed

MEASURES = {"rate": "ratio", "ratio": "ratio", "avg": "mean", "count": "share"}
MIN_LOG_SD = 0.05  # per-event spread on the log scale never taken below 5%
CLIP = 3.0  # a window beyond this many (dispersed) sampling sds moves the baseline this far only


@dataclass(frozen=True)
class SliceParams:
    """z: how many sampling sds (after dispersion) from its baseline score 0.5 (shares:
    the normal z of the same binomial tail). span: how many intervals, the newest last, a
    slice is judged over at each close (a sliding window: a burst shows in its first interval
    and gathers evidence over the next ones; each interval is learned once).

    direction: up, down or both. min_change: the smallest relative change that may alert
    (0.3: 30%; the geometric mean's ratio for `mean`). alpha: how fast baselines forget, per
    window a slice is seen in. min_points: windows with enough events a slice learns before it
    may alert. adapt_after: windows in a row beyond the clip after which a change is the new
    normal. max_slices: baselines kept (the lowest-volume ones are evicted beyond it).
    max_combinations: distinct label combinations held per window (events beyond count in the
    aggregate only). max_named: slices named per window. recall: how long (seconds) a slice
    whose alert resolved still names the departures it explains (the same outbreak seen
    through another label once the slice has gone quiet brings its incident back).
    min_subjects: the least people (`user` values) whose events a group's departure (a
    team's, a model's, the aggregate's) needs: without the events of the ones carrying the
    most of it, fewer than this, it must still depart, or it is that person's departure and
    only their own slice may be named (one person's failures are not their team's outage).
    person_severity: the gravest severity of an incident that is one person's: a person's
    own slice, or a slice that departs no more without one person's events (the one person
    failing in a repository). Empty: the detector's severity for every slice. A person's
    failed calls page no one at night when a team's outage would.
    """

    z: float = 5.0
    span: int = 1
    direction: str = "both"
    min_change: float = 0.3
    alpha: float = 0.02
    min_points: int = 12
    adapt_after: int = 48
    max_slices: int = 5000
    max_combinations: int = 20000
    max_named: int = 3
    recall: float = 1800.0
    min_subjects: int = 1
    person_severity: str = ""


@dataclass(frozen=True)
class Window:
    """One slice's figures in one window: events (for `share`: all the window's events), and
    the sums of values, squared values and raw values (`mean`; hits for the others)."""

    n: float
    total: float
    squares: float = 0.0
    raw: float = 0.0

    @property
    def value(self) -> float:
        return self.total / self.n if self.n > 0 else 0.0


_NORMAL = NormalDist()
_SMALLEST = 1e-300


def binomial_tail(k: int, n: int, rate: float) -> float:
    """P(X >= k) for X ~ Binomial(n, rate), for k above the mean (summed from the pmf at k,
    whose terms fall geometrically there)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    log_pmf = (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(rate)
        + (n - k) * math.log1p(-rate)
    )
    term = math.exp(log_pmf)
    total, j, odds = term, k, rate / (1.0 - rate)
    while j < n and term > 1e-12 * total and j - k < 5000:
        term *= (n - j) / (j + 1) * odds
        total += term
        j += 1
    return min(total, 1.0)


def binomial_z(k: int, n: int, rate: float) -> float:
    """The normal z with the same tail as k hits of n at `rate` (positive above the mean)."""
    if k >= n * rate:
        tail = binomial_tail(k, n, rate)
        return -_NORMAL.inv_cdf(min(max(tail, _SMALLEST), 0.5))
    tail = binomial_tail(n - k, n, 1.0 - rate)  # P(X <= k): the misses' upper tail
    return _NORMAL.inv_cdf(min(max(tail, _SMALLEST), 0.5))


class SliceBaseline:
    """One slice's baseline: exponentially weighted sums over the windows it was seen in.

    `weight`, `total` and `squares` are discounted sums of events, values and squared values,
    so the baseline is the recent windows' pooled mean, each window weighed by its events.
    `phi2` is the dispersion: the usual squared z of a window beyond sampling error (at least
    1). Learning is clipped (Huber), so an incident does not become the baseline unless it
    lasts `adapt_after` windows.

    >>> b = SliceBaseline("ratio")
    >>> for _ in range(30):
    ...     b.learn_one(Window(100, 1), SliceParams())
    >>> round(b.expected, 3)
    0.01
    >>> b.score_one(Window(100, 40), SliceParams()) > 0.99  # 40 errors in 100 calls
    True
    >>> b.score_one(Window(100, 2), SliceParams()) < 0.05  # 2 in 100: ordinary
    True
    """

    __slots__ = ("measure", "phi2", "points", "raw", "run", "squares", "total", "volume", "weight")

    def __init__(self, measure: str) -> None:
        self.measure = measure
        self.weight = 0.0
        self.total = 0.0
        self.squares = 0.0
        self.raw = 0.0
        self.phi2 = 1.0
        self.points = 0
        self.run = 0
        self.volume = 0.0  # discounted events per window seen: what eviction keeps

    def __getstate__(self) -> tuple[None, dict[str, Any]]:
        return None, {s: getattr(self, s) for s in self.__slots__}

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        _, saved = state
        self.__init__(saved["measure"])  # type: ignore[misc]
        for name, value in saved.items():
            setattr(self, name, value)

    def spawn(self) -> SliceBaseline:
        """A new slice's prior: this baseline's level and spread, worth one small window."""
        child = SliceBaseline(self.measure)
        if self.weight > 0:
            child.weight = min(self.weight, 10.0)
            child.total = self.expected * child.weight
            child.squares = (self.spread**2 + self.expected**2) * child.weight
            child.raw = self.typical * child.weight
        return child

    @property
    def expected(self) -> float:
        return self.total / self.weight if self.weight > 0 else 0.0

    @property
    def typical(self) -> float:
        """The baseline on the metric's own scale (the raw mean for `mean`)."""
        if self.measure == "mean":
            return self.raw / self.weight if self.weight > 0 else 0.0
        return self.expected

    @property
    def spread(self) -> float:
        """Per-event standard deviation (`mean`: on the log scale)."""
        m = self.expected
        return math.sqrt(max(self.squares / self.weight - m * m, 0.0)) if self.weight > 0 else 0.0

    def is_warm(self, t: float, warmup: float) -> bool:
        return self.points >= 1 and self.weight > 0

    def rate(self) -> float:
        """The baseline share of hits, kept off 0 and 1 by half an event each way."""
        return (max(self.total, 0.0) + 0.5) / (self.weight + 1.0)

    def sampling_sd(self, n: float) -> float:
        """The sd of a window's value from sampling alone, at `n` events."""
        if n <= 0:
            return math.inf
        if self.measure == "mean":
            return max(self.spread, MIN_LOG_SD) / math.sqrt(n)
        r = self.rate()
        return math.sqrt(r * (1.0 - r) / n)

    def z(self, w: Window, p: SliceParams) -> float:
        """Signed departure of the window from the baseline, in dispersed sampling sds.

        For shares, a departure past two sds is measured by the binomial tail itself (as the
        normal z that has the same tail): hits are skewed when they are rare, and the normal
        approximation would call three errors in twenty calls a five-sigma event.
        """
        phi = math.sqrt(max(self.phi2, 1.0))
        if self.measure == "mean":
            sd = self.sampling_sd(w.n)
            return (w.value - self.expected) / sd / phi if sd > 0 else 0.0
        if w.n <= 0:
            return 0.0
        z = (w.value - self.rate()) / self.sampling_sd(w.n)
        if abs(z) > 2.0:
            z = binomial_z(round(w.total), round(w.n), self.rate())
        return z / phi

    def change(self, w: Window) -> float:
        """Relative size of the change (the geometric mean's ratio less one for `mean`)."""
        if self.measure == "mean":
            return abs(math.expm1(w.value - self.expected))
        m = self.expected
        return abs(w.value - m) / m if m > 0 else math.inf

    def score_one(self, w: Window, p: SliceParams) -> float:
        """In [0, 1]: 0.5 at `z` dispersed sds in the watched direction, 0 below `min_change`."""
        if self.change(w) < p.min_change:
            return 0.0
        return deviation_score(directed(self.z(w, p), p.direction), p.z)

    def learn_one(self, w: Window, p: SliceParams, scored: bool = True) -> None:
        """Discount the sums and add the window (clipped to `CLIP` sds while it is news).

        A window with too few events to be scored (`scored` False) adds to the sums, where
        it weighs by its events, but does not teach the dispersion.
        """
        if w.n <= 0:
            return
        z = self.z(w, p) if self.points else 0.0
        if scored:
            self.run = self.run + 1 if abs(z) > CLIP else 0
        total, squares = w.total, w.squares
        if abs(z) > CLIP and self.run < p.adapt_after:
            sd = self.sampling_sd(w.n) * math.sqrt(max(self.phi2, 1.0))
            mean = self.expected + math.copysign(CLIP * sd, z)
            squares = squares - total * total / w.n + w.n * mean * mean
            total = w.n * mean
        if self.points and scored and z * z < p.z * p.z * self.phi2:
            # Only windows short of an alert teach the dispersion: an outbreak must not
            # widen the band that judges it, while a slice that always wanders learns to.
            rate = max(1.0 / (self.points + 1), p.alpha)
            self.phi2 += rate * (min(z * z, CLIP * CLIP * self.phi2) - self.phi2)
        keep = 1.0 - p.alpha
        self.weight = keep * self.weight + w.n
        self.total = keep * self.total + total
        self.squares = keep * self.squares + squares
        self.raw = keep * self.raw + (w.raw if self.measure == "mean" else total)
        events = w.total if self.measure == "share" else w.n
        self.volume = keep * self.volume + p.alpha * events
        self.points += 1

    def describe(self, w: Window) -> dict[str, Any]:
        return {
            "value": round(self.shown(w), 6),
            "baseline": round(self.typical, 6),
            "events": int(w.n),
            "dispersion": round(math.sqrt(max(self.phi2, 1.0)), 3),
        }

    def shown(self, w: Window) -> float:
        """The window's value on the metric's own scale."""
        if self.measure == "mean":
            return w.raw / w.n if w.n > 0 else 0.0
        return w.value


__all__ = ["MEASURES", "SliceBaseline", "SliceParams", "Window"]
