"""Anomaly likelihood: how unusual the recent prediction errors are, by several simple tests.

Raw prediction errors are a poor alarm on their own: a noisy metric errs by a lot all the
time, a quiet one never, so no threshold fits both. What is anomalous is an error that is
unusual *for this series*: this detector keeps, for each of its tests, the long-run
distribution of its recent average error and scores how far into that distribution's tail
the current average lies (the anomaly likelihood). Three tests vote, and the most surprised
one speaks:

- *point*: the distance of the value from a robust running level, on its own (a spike or
  a dip);
- *run*: the same distance averaged over the last few points (a level shift, a drift, noise
  that grows);
- *context*: whether the recent shape of the series has been seen before: values are cut
  into bins over the range seen so far, and the test counts how many of the short histories
  that end in the current bin (of one to `order` points before it) never occurred (a daily
  cycle that breaks, flattens or jumps while every single value stays in range).

A surprise is followed by a quiet period: for `refractory` points after a score of 0.35 or
more, a score that does not rise above that peak is damped to a quarter, since an anomaly
announces itself once and its aftermath is not news; a larger surprise still speaks (and
starts a new quiet period). This holds at any threshold the scores are read at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from detectors.persist import restore_slots
from detectors.scoring import log_scale, robust_step

_SQRT2 = math.sqrt(2.0)
_TESTS = 3  # point, run, context: their smallest tail probability is multiplied by this
# A score at or above this opens a quiet period, in which scores not above its peak are
# damped: an event announces itself once, at whatever threshold it is read.
_PEAK_FLOOR = 0.35
_DAMP = 0.25


@dataclass(frozen=True)
class LikelihoodParams:
    """tail: the tail probability that scores 0.5 (scores are -log10 of the combined tail
    probability over -2 log10 of this, so 1e-5 scores 0.5 and 1e-10 scores 1).

    average: points in the short average of each test's errors. memory: points the long-run
    distribution of those averages remembers. min_points: points learned before anything
    is scored. refractory: points after a peak during which lower scores are damped.
    bins, order: the context test's resolution and longest history. contexts: how many
    distinct histories it keeps at most (older, rarer ones are forgotten). step: seconds
    between points (unused: positions are counted in points). transform: none, or log for a
    positive metric whose values span orders of magnitude.
    """

    tail: float = 1e-5
    average: int = 8
    memory: int = 1000
    min_points: int = 150
    refractory: int = 150
    bins: int = 12
    order: int = 4
    contexts: int = 4096
    step: float = 300.0
    transform: str = "none"


def _tail(z: float) -> float:
    """One-sided normal tail probability P(Z > z)."""
    return 0.5 * math.erfc(z / _SQRT2)


# The error tail: above their 95th percentile, the logarithms of the errors are modelled
# as exponential (peaks over a threshold, as extreme-value theory has it), that is the
# errors themselves as a Pareto tail, whose weight is learned: a metric whose errors have a
# long tail (bytes, counts of bursty events) learns how long it is, and a light-tailed one
# how short, without assuming either.
_Q = 0.95
_RATE = 0.03


class ErrorTail:
    """How unusual an error is for one test: with u = log(1 + error), its running 95th
    percentile q and the mean excess m of the u above it give P(u >= v) = 0.05 exp(-(v - q) / m)."""

    __slots__ = ("excess", "n", "q")

    def __init__(self) -> None:
        self.q = 0.0
        self.excess = 0.0
        self.n = 0

    def p(self, e: float) -> float:
        e = math.log1p(e)
        if self.n < 20 or e <= self.q:
            return 1.0
        excess = max(self.excess, 0.05 * self.q, 1e-12)
        return (1.0 - _Q) * math.exp(-(e - self.q) / excess)

    def learn(self, e: float, memory: int) -> None:
        e = math.log1p(e)
        self.n += 1
        if self.n == 1 or not self.q > 0.0:
            self.q = e
            return
        if e > self.q:
            # the mean excess over the percentile, learned only from the points beyond it
            alpha = max(1.0 / (1.0 + (1.0 - _Q) * self.n), 20.0 / memory)
            self.excess += alpha * (e - self.q - self.excess)
        self.q *= math.exp(_RATE * (_Q if e > self.q else _Q - 1.0))

    def __getstate__(self) -> tuple[float, float, int]:
        return (self.q, self.excess, self.n)

    def __setstate__(self, state: tuple[float, float, int]) -> None:
        self.q, self.excess, self.n = state


class AnomalyLikelihood:
    """Anomalous means: one of the point, run or context tests sees an error that the
    series' own history of errors makes improbable (see the module docstring).

    >>> import math
    >>> m = AnomalyLikelihood()
    >>> xs = [50 + 10 * math.sin(i / 20) + (i * 7919 % 13) / 13 for i in range(1500)]
    >>> for i, x in enumerate(xs):
    ...     m.learn_one(x, 300.0 * i)
    >>> m.score_one(50 + 10 * math.sin(1500 / 20), 300.0 * 1500) < 0.3
    True
    >>> m.score_one(120.0, 300.0 * 1500) > 0.9
    True
    """

    __slots__ = (
        "cooldown",
        "ctx",
        "hi",
        "history",
        "last_bin",
        "length",
        "level",
        "lo",
        "n",
        "p",
        "peak",
        "run",
        "scale",
        "table",
        "tails",
    )

    def __init__(self, params: LikelihoodParams | None = None) -> None:
        self.p = params or LikelihoodParams()
        self.n = 0
        self.level = 0.0
        self.scale = 0.0
        self.run = 0.0  # the short average of the point errors
        self.ctx = 0.0  # the short average of the context novelty
        self.lo = math.inf
        self.hi = -math.inf
        self.history: list[int] = []  # the last `order` runs, as run codes
        self.last_bin = 0  # the bin of the current run, and how many points it has lasted
        self.length = 0
        self.table: dict[int, int] = {}
        self.tails = (ErrorTail(), ErrorTail(), ErrorTail())
        self.cooldown = 0
        self.peak = 0.0

    __setstate__ = restore_slots

    def spawn(self) -> AnomalyLikelihood:
        return AnomalyLikelihood(self.p)

    def is_warm(self, t: float, warmup: float) -> bool:
        return self.n >= self.p.min_points

    # -- the three tests -------------------------------------------------------------------

    def _point_error(self, x: float) -> float:
        sigma = max(self.scale, 1e-9 * (abs(self.level) + 1e-9))
        return abs(x - self.level) / sigma

    def _bin(self, x: float) -> int:
        span = self.hi - self.lo
        if not span > 0.0:
            return 0 if x == self.lo else (-1 if x < self.lo else self.p.bins)
        f = (x - self.lo) / span * self.p.bins  # may overflow to inf for a tiny span
        return -1 if f < 0.0 else (self.p.bins if f >= self.p.bins else int(f))

    def _run_code(self, b: int, length: int) -> int:
        """A run of `length` points in bin b, its length in powers of two (1, 2-3, 4-7, ...)."""
        return (b + 1) * 8 + min(7, length.bit_length() - 1)

    def _current(self, b: int) -> int:
        length = self.length + 1 if b == self.last_bin and self.length else 1
        return self._run_code(b, length)

    def _keys(self, b: int) -> list[int]:
        """The histories that end in the current run (with b): the run alone, and with the
        one to `order` runs before it."""
        base = (self.p.bins + 3) * 8
        code = self._current(b)
        keys = [code]
        weight = base
        for prev in reversed(self.history):
            code += prev * weight
            weight *= base
            keys.append(code)
        return keys

    def _novelty(self, x: float) -> float:
        keys = self._keys(self._bin(x))
        table = self.table
        return sum(1 for k in keys if k not in table) / len(keys)

    def _averages(self, x: float) -> tuple[float, float, float]:
        """(point error, its short average, the context novelty's short average) with x."""
        e = self._point_error(x)
        a = 1.0 / self.p.average
        run = self.run + a * (e - self.run)
        ctx = self.ctx + a * (self._novelty(x) - self.ctx)
        return e, run, ctx

    def _tail_p(self, x: float) -> float:
        e, run, ctx = self._averages(x)
        point, long_run, context = self.tails
        p = min(point.p(e), long_run.p(run), context.p(ctx))
        return min(1.0, _TESTS * p)

    # -- River's verbs ---------------------------------------------------------------------

    def _tx(self, x: float) -> float:
        return log_scale(x) if self.p.transform == "log" else x

    def _raw(self, x: float) -> float:
        """The score of the (already transformed) x before any quiet period."""
        p = self._tail_p(x)
        return min(1.0, math.log10(max(p, 1e-300)) / (2.0 * math.log10(self.p.tail)))

    def score_one(self, x: float, t: float, n: int = 0) -> float:
        if self.n < self.p.min_points:
            return 0.0
        s = self._raw(self._tx(x))
        if self.cooldown > 0 and s <= self.peak:
            return _DAMP * s
        return s

    def describe(self, x: float, t: float, n: int = 0) -> dict:
        v = self._tx(x)
        e, run, ctx = self._averages(v)
        return {
            "value": x,
            "level": round(math.expm1(self.level) if self.p.transform == "log" else self.level, 6),
            "point_error": round(e, 3),
            "run_error": round(run, 3),
            "context_novelty": round(ctx, 3),
            "tail_probability": float(f"{self._tail_p(v):.3g}"),
        }

    def learn_one(self, x: float, t: float, n: int = 0) -> None:
        p = self.p
        x = self._tx(x)
        if self.n >= p.min_points:
            s = self._raw(x)
            if s >= _PEAK_FLOOR and (s > self.peak or self.cooldown <= 0):
                # a new peak: only what rises above it is news for the next `refractory` points
                self.peak, self.cooldown = s, p.refractory
            elif self.cooldown > 0:
                self.cooldown -= 1
                if self.cooldown == 0:
                    self.peak = 0.0
        self.n += 1
        if self.n == 1:
            self.level = x
            self.lo = self.hi = x
            self.last_bin, self.length = self._bin(x), 1
            return
        e, run, ctx = self._averages(x)
        self.run, self.ctx = run, ctx
        if self.n > 2:
            point, long_run, context = self.tails
            point.learn(e, p.memory)
            long_run.learn(run, p.memory)
            context.learn(ctx, p.memory)
        self._learn_context(x)
        alpha = max(1.0 / self.n, 0.05)
        clip = 4.0 if self.n > 30 else math.inf
        self.level, self.scale = robust_step(self.level, self.scale, x, alpha, clip, self.scale)

    def _fires(self, x: float) -> bool:
        """Whether the (already transformed) x scores at or above the alert point."""
        q = self._tail_p(x)
        return math.log10(max(q, 1e-300)) / (2.0 * math.log10(self.p.tail)) >= 0.5

    def _learn_context(self, x: float) -> None:
        b = self._bin(x)
        table = self.table
        for k in self._keys(b):
            table[k] = table.get(k, 0) + 1
        if len(table) > self.p.contexts:
            # forget the histories seen once, then halve what remains (recent ones survive)
            self.table = {k: c // 2 for k, c in table.items() if c > 1}
        if self.length and b == self.last_bin:
            self.length += 1
        else:
            if self.length:
                self.history.append(self._run_code(self.last_bin, self.length))
                if len(self.history) > self.p.order:
                    del self.history[0]
            self.last_bin, self.length = b, 1
        self.lo = min(self.lo, x)
        self.hi = max(self.hi, x)
