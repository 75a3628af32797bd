"""Anomaly likelihood: how unusual the newest point is for this series, by three simple tests.

Raw deviations are a poor alarm on their own: a noisy metric strays by a lot all the time, a
quiet one never, so no threshold fits both. What is anomalous is a deviation that is unusual
*for this series*: each test keeps the long-run distribution of its own statistic and scores
how far into that distribution's tail the current value lies (the anomaly likelihood). The
three tests vote, and the most surprised one speaks:

- *point*: how many standard deviations the value lies from the running mean of the last
  `window` points (a spike, a dip, a step on its first point);
- *run*: that deviation averaged over the last few points (a level shift, a drift, noise
  that grows);
- *context*: whether the recent shape of the series has been seen before: values are cut
  into bins over the range seen so far, and the test counts how many of the short histories
  that end in the current bin (of one to `order` runs before it) never occurred (values that
  stay in range but come in an order never seen; a cycle that merely flattens for a day is
  too like its own calm hours for it).

An anomaly announces itself once: a score counts in full only when it is the largest raw
score of the last `refractory` points; any other is damped to a quarter of its capped value
(so a damped score never reaches the alert point, however large the surprise). Its aftermath, and
the ordinary ups and downs of a series that had a larger surprise lately, are not news. With
`direction` up (or down) only deviations above (below) the running mean count, for metrics
such as cost or error rate where only one side is a problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from detectors.persist import restore_slots
from detectors.quiet_period import QuietPeriod, damped, from_saved
from detectors.scoring import directed, log_scale
from detectors.window_model import WindowModel

_TESTS = 3  # point, run, context: their smallest tail probability is multiplied by this
_DAMP = 0.25  # what a score that is not the largest of the quiet period keeps
_MARGIN = 0.5  # decades of tail probability by which a score must pass the quiet period's largest
_CLIP = 20.0  # deviations beyond this many sigmas count as this many in the run test and
# in what the point test's tail learns
_HALVE = bytes(c // 2 for c in range(256))  # a byte count halved, for bytearray.translate
_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing: 2^64 over the golden ratio


def _slot(key: int, size: int) -> int:
    """The table slot of a history's code (its bits mixed, so that close codes spread)."""
    return (((key * _GOLDEN) & 0xFFFFFFFFFFFFFFFF) >> 29) % size


@dataclass(frozen=True)
class LikelihoodParams:
    """tail: the tail probability that scores 0.5 (scores are -log10 of the combined tail
    probability over -2 log10 of this, so 1e-5 scores 0.5 and 1e-10 scores 1).

    window: points the running mean and spread of the values remember. average: points in
    the run test's average. memory: points the long-run distribution of each test's
    statistic remembers. min_points: points learned before anything is scored. refractory:
    the quiet period, in points: a score counts in full only if it is the largest of that
    many (0: every score counts in full, for alerting on every window of a lasting problem).
    bins, order: the context test's resolution and longest history. contexts: how many
    distinct histories it keeps at most (hashed into twice as many one-byte slots; once more
    are taken every count is halved, so older, rarer ones are forgotten). direction: up,
    down or both (which deviations count). step: seconds between points (unused: positions
    are counted in points). transform: none, or log for a positive metric whose values span
    orders of magnitude.
    """

    tail: float = 1e-5
    window: int = 1000
    average: int = 8
    memory: int = 1000
    min_points: int = 150
    refractory: int = 500
    bins: int = 12
    order: int = 4
    contexts: int = 4096
    direction: str = "both"
    step: float = 300.0
    transform: str = "none"


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

    def copy(self) -> ErrorTail:
        twin = ErrorTail()
        twin.q, twin.excess, twin.n = self.q, self.excess, self.n
        return twin

    def __getstate__(self) -> tuple[float, float, int]:
        return (self.q, self.excess, self.n)

    def __setstate__(self, state: tuple[float, float, int]) -> None:
        self.q, self.excess, self.n = state


def _hashed(table: dict[int, int], size: int) -> tuple[bytearray, int]:
    """A table of history counts by code as the slots of a hashed table, and the slots taken."""
    out = bytearray(size)
    for k, c in table.items():
        i = _slot(k, size)
        out[i] = min(255, out[i] + c)
    return out, size - out.count(0)


class AnomalyLikelihood(WindowModel[LikelihoodParams, float, float]):
    """Anomalous means: the point, run or context test sees a value that the series' own
    history makes improbable, and no larger surprise came lately (see the module docstring).

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
        "ctx",
        "hi",
        "history",
        "last_bin",
        "length",
        "lo",
        "mean",
        "n",
        "own",
        "p",
        "quiet",
        "run",
        "table",
        "tails",
        "taken",
        "var",
    )
    Params = LikelihoodParams

    def __init__(self, params: LikelihoodParams | None = None) -> None:
        self.p = params or LikelihoodParams()
        self.n = 0  # points learned, inherited ones included
        self.own = 0  # points this model learned itself (its context table is its own)
        self.mean = 0.0
        self.var = 0.0
        self.run = 0.0  # the short average of the directed, clipped deviations
        self.ctx = 0.0  # the short average of the context novelty
        self.lo = math.inf
        self.hi = -math.inf
        self.history: list[int] = []  # the last `order` runs, as run codes
        self.last_bin = 0  # the bin of the current run, and how many points it has lasted
        self.length = 0
        # how often each history (hashed to a slot) was seen, and how many slots are taken
        self.table = bytearray(2 * self.p.contexts)
        self.taken = 0
        self.tails: tuple[ErrorTail, ...] = (ErrorTail(), ErrorTail(), ErrorTail())
        self.quiet = QuietPeriod(self.p.refractory)  # the quiet period's largest raw score

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        """Restore a snapshot. One saved before the point test measured against the long run
        (no `mean`) holds nothing this model can use: it starts over, keeping its params."""
        _, saved = state
        params = saved["p"]
        known = {
            f.name: getattr(params, f.name)
            for f in fields(LikelihoodParams)
            if hasattr(params, f.name)
        }
        saved = {**saved, "p": LikelihoodParams(**known)}
        if "mean" not in saved:
            type(self).__init__(self, saved["p"])
            return
        if "quiet" not in saved:  # kept in the model's own fields before
            saved["quiet"] = from_saved(saved, saved["p"].refractory)
        if isinstance(saved.get("table"), dict):  # a table of histories by code before
            saved["table"], saved["taken"] = _hashed(saved["table"], 2 * saved["p"].contexts)
        restore_slots(self, (None, saved))

    def spawn(self) -> AnomalyLikelihood:
        """A model for a new key that starts from this one's sense of normal: the value
        statistics and the tails of every test (the context table stays this model's own,
        so the child's context test waits until it has learned its own histories)."""
        child = AnomalyLikelihood(self.p)
        child.n, child.mean, child.var = self.n, self.mean, self.var
        child.lo, child.hi = self.lo, self.hi
        child.tails = tuple(ErrorTail.copy(t) for t in self.tails)
        return child

    def is_warm(self, t: float, warmup: float) -> bool:
        return self.n >= self.p.min_points

    # -- the three tests -------------------------------------------------------------------

    def _deviation(self, x: float) -> float:
        """The directed deviation of x from the running mean, in running standard deviations."""
        d = directed(x - self.mean, self.p.direction)
        if not d > 0.0:
            return 0.0
        sd = math.sqrt(self.var) if self.var > 0.0 else 0.0
        sd = max(sd, 1e-9 * (abs(self.mean) + 1e-9))
        return d / sd

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
        if self.p.direction != "both" and not directed(x - self.mean, self.p.direction) > 0.0:
            return 0.0
        keys = self._keys(self._bin(x))
        table, size = self.table, len(self.table)
        return sum(1 for k in keys if not table[_slot(k, size)]) / len(keys)

    def _statistics(self, x: float) -> tuple[float, float, float]:
        """(point deviation, its short average, the context novelty's short average) with x."""
        e = self._deviation(x)
        a = 1.0 / self.p.average
        run = self.run + a * (min(e, _CLIP) - self.run)
        ctx = self.ctx + a * (self._novelty(x) - self.ctx)
        return e, run, ctx

    def _tail_p(self, x: float) -> float:
        e, run, ctx = self._statistics(x)
        point, long_run, context = self.tails
        p = min(point.p(e), long_run.p(run))
        if self.own >= self.p.min_points:
            p = min(p, context.p(ctx))
        return min(1.0, _TESTS * p)

    # -- River's verbs ---------------------------------------------------------------------

    def _tx(self, x: float) -> float:
        return log_scale(x) if self.p.transform == "log" else x

    def _raw(self, x: float) -> float:
        """The surprise of the (already transformed) x on the score's scale, not yet capped
        at 1 (so that a larger surprise still ranks above a large one) nor quieted."""
        p = self._tail_p(x)
        return math.log10(max(p, 1e-300)) / (2.0 * math.log10(self.p.tail))

    def _margin(self) -> float:
        """How far a score must pass the quiet period's largest raw score to count in full:
        half a decade of tail probability, so that a surprise that keeps growing for a few
        points (a ramp) counts once, not on each of its points."""
        return _MARGIN / (-2.0 * math.log10(self.p.tail))

    def score_one(self, x: float, t: float, n: int = 0) -> float:
        if self.n < self.p.min_points:
            return 0.0
        return damped(self._raw(self._tx(x)), self.quiet.bar(), self._margin(), _DAMP)

    def describe(self, x: float, t: float, n: int = 0) -> dict[str, Any]:
        v = self._tx(x)
        e, run, ctx = self._statistics(v)
        mean = math.expm1(self.mean) if self.p.transform == "log" else self.mean
        return {
            "value": x,
            "mean": round(mean, 6),
            "deviation": round(e, 3),
            "run_deviation": round(run, 3),
            "context_novelty": round(ctx, 3),
            "tail_probability": float(f"{self._tail_p(v):.3g}"),
        }

    def learn_one(self, x: float, t: float, n: int = 0) -> None:
        p = self.p
        x = self._tx(x)
        if p.refractory > 0 and self.n > 2:
            # the quiet period counts from the start: what surprised the model while it was
            # still learning sets the bar its first scores must pass
            self.quiet.remember(self._raw(x))
        self.n += 1
        self.own += 1
        if self.n == 1:
            self.mean = x
            self.lo = self.hi = x
            self.last_bin, self.length = self._bin(x), 1
            return
        e, run, ctx = self._statistics(x)
        self.run, self.ctx = run, ctx
        if self.n > 2:
            point, long_run, context = self.tails
            # a point beyond _CLIP sigmas teaches the point test's tail as one at _CLIP: one
            # huge early spike would otherwise teach it to expect huge excursions, and every
            # later, smaller one would read as ordinary
            point.learn(min(e, _CLIP), p.memory)
            long_run.learn(run, p.memory)
            context.learn(ctx, p.memory)
        self._learn_context(x)
        alpha = max(1.0 / self.n, 1.0 / p.window)
        d = x - self.mean
        self.mean += alpha * d
        self.var = (1.0 - alpha) * (self.var + alpha * d * d)

    def _learn_context(self, x: float) -> None:
        b = self._bin(x)
        table, size = self.table, len(self.table)
        for k in self._keys(b):
            i = _slot(k, size)
            c = table[i]
            if c < 255:
                table[i] = c + 1
                self.taken += c == 0
        if self.taken > self.p.contexts:
            # forget the histories seen once, then halve what remains (recent ones survive)
            self.table = table.translate(_HALVE)
            self.taken = size - self.table.count(0)
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
