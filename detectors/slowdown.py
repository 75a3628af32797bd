"""Slowdown of a model's calls: the typical call's latency, for its answer's length, against the
key's own learned curve.

A window's p95 of a few calls is its slowest call, and a window of long answers is slow with
nothing wrong: neither says that the service got slower. This model learns, per key, how a
call's log latency grows with its log output length (a quadratic in log(1 + tokens), fitted by
exponentially weighted least squares), and judges each call by its residual. A window is a
slowdown when the residuals' mean is far above zero in standard errors (sigma / sqrt(n): the
evidence grows with the number of calls, and each call's residual is clipped, so a few slow
outliers cannot carry it) AND their median shows a minimum effect (the typical call at least
`min_ratio` times slower). A thin key gathers the evidence of its windows over the last
`span` steps. A call is judged only among answer lengths the key has learned (`min_support`
calls of its power of two of tokens): a curve learned on short answers says little of long ones.

Calls that do not say their region (Claude Code's own events; a client that omits it) take the
region `unknown` (`label_defaults`) and are judged per model, unless calls of the same model
that do say a region were seen within the last `said_within` steps: those judge that model
already, and its region-less calls, mixing the same regions, would page the same slowdown
twice. The detector's root model holds no curve of its own: it remembers when each model last
had calls with a region, and learns each model's curve over all its regions (what `taught`
passes up). A model-region with too few calls of its own to judge by (a region used a few
times a day) takes that curve as its prior, weighing as `min_calls` calls: a model's speed
for an answer's length is much the same in every region, and a slowdown that begins before
such a key has learned its own curve would otherwise be learned as its normal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any

from detectors.persist import restore_slots
from detectors.rollup import Accumulator
from detectors.scoring import MAD_TO_SIGMA, deviation_score
from detectors.window_model import PendingKeys, WindowModel

FEATURES = 3  # 1, u, u*u with u = log(1 + output tokens)
KEPT_RESIDUALS = 64  # per remembered window, for the median of joined windows
RIDGE = 1e-3  # keeps the fit defined while every call has the same length (or none)
SIGMA_FLOOR = 0.05  # log units: calls that never vary still have a 5% jitter
LENGTHS = 16  # answer lengths by powers of two of output tokens (the last: 32k and more)
UNSAID = "unknown"  # the last group label of calls that do not say it (`label_defaults`)


@dataclass(frozen=True)
class SlowdownParams:
    """z: standard errors of the mean residual that score 0.5 (with the effect met).

    min_ratio: how many times slower the typical (median) call must be. clip: a call's
    residual counts at most this many sigmas. memory: calls the fit and the spread remember
    (exponential forgetting). min_calls: calls a key learns before it alerts. span: steps
    whose windows a thin key's evidence joins. step: seconds per step (the interval).
    adapt_after: windows of a lasting slowdown after which it is learned as the new normal.
    min_support: calls of a length (a power of two of tokens) learned before such calls count.
    said_within: steps for which a key's calls that said their last group label keep the
    calls of the same other labels that did not (that label `unknown`) from paging.
    """

    z: float = 5.0
    min_ratio: float = 2.0
    clip: float = 3.0
    memory: float = 3000.0
    min_calls: int = 60
    span: int = 12
    step: float = 300.0
    adapt_after: int = 96
    min_support: int = 20
    said_within: int = 288


Calls = list[tuple[float, float | None]]  # (latency, output tokens or None) per call


class Slowdown(WindowModel[SlowdownParams, Calls | None, Calls | None]):
    """One model-region's latency curve and the evidence of its last windows.

    >>> m = Slowdown(SlowdownParams(min_calls=20))
    >>> ordinary = [(400.0 + 6.0 * k, float(k)) for k in (10, 100, 400, 1000, 30)]
    >>> for i in range(30):
    ...     m.learn_one(ordinary, i * 900.0)
    >>> m.score_one(ordinary, 30 * 900.0) < 0.05
    True
    >>> m.score_one([(3.0 * lat, k) for lat, k in ordinary], 30 * 900.0) > 0.5
    True
    """

    __slots__ = (
        "calls",
        "first",
        "last",
        "lent",
        "models",
        "p",
        "recent",
        "run",
        "s",
        "said",
        "scale",
        "support",
        "sxx",
        "sxy",
    )
    Params = SlowdownParams
    __setstate__ = restore_slots  # saved before `said`, `models` or `lent` existed: fresh ones
    # Each model and region has its own speed: `spawn` starts afresh and the root learns no
    # calls; keys are taught to the root only so that it knows which models say their region.
    inherits = True

    def __init__(self, params: SlowdownParams | None = None) -> None:
        self.p = params or SlowdownParams()
        self.calls = 0  # calls learned
        self.s = 0.0  # decayed weight of the calls learned
        self.sxx = [[0.0] * FEATURES for _ in range(FEATURES)]
        self.sxy = [0.0] * FEATURES
        self.scale = 0.0  # residual sigma (log units), robust
        self.run = 0  # consecutive windows held back as a slowdown
        self.first: Calls = []  # the calls of the warm-up, for the first spread
        # decayed calls learned per answer length (powers of two of tokens; last: unknown)
        self.support = [0.0] * (LENGTHS + 1)
        # (start, sum of clipped residuals, calls, some residuals) of the last windows
        self.recent: list[tuple[float, float, int, list[float]]] = []
        self.last = 0.0  # start of the last window learned
        # the root's state: per key without its last label, when it last said that label, and
        # the curve of that key's calls over all its values of the last label (the prior)
        self.said: dict[tuple[str, ...], float] = {}
        self.models: dict[tuple[str, ...], Slowdown] = {}
        # a thin key: the support its prior lends it, while its own calls are few (`lend`)
        self.lent: list[float] | None = None

    # -- the window's calls ----------------------------------------------------------------

    @classmethod
    def point(
        cls, accs: Sequence[Accumulator], aggregations: Sequence[str], min_count: int
    ) -> Calls | None:
        """The window's calls as (latency, tokens); tokens are None when the two metrics'
        samples do not pair up (a call without its length, or a reservoir-sampled window)."""
        lat = accs[0]
        if lat.count == 0 or lat.count < min_count or not lat.samples:
            return None
        lengths = accs[1].samples if len(accs) > 1 else None
        if lengths is not None and accs[1].count == lat.count == len(lat.samples) == len(lengths):
            return list(zip(lat.samples, lengths, strict=True))
        return [(v, None) for v in lat.samples]

    @classmethod
    def empty_point(cls, aggregations: Sequence[str]) -> None:
        return None

    @classmethod
    def check_spec(
        cls,
        kind: str,
        aggregations: Sequence[str],
        group_by: Sequence[str],
        params: Mapping[str, Any],
        budgets: Mapping[str, float],
    ) -> None:
        if len(aggregations) not in (1, 2) or any(
            a not in ("p50", "p95", "p99") for a in aggregations
        ):
            raise ValueError(
                f"kind {kind!r} takes `metrics`: the latency, then (optionally) the output "
                "tokens, each with a percentile aggregation (p50) so that every call is kept"
            )

    @classmethod
    def series_problem(cls, params: SlowdownParams) -> str | None:
        return "kind 'slowdown' judges calls, not a series of numbers"

    # -- the curve ---------------------------------------------------------------------------

    def _features(self, tokens: float | None) -> list[float]:
        if tokens is None or not tokens >= 0.0:
            # the length unknown: the key's average call
            w = self.s if self.s > 0.0 else 1.0
            u = self.sxx[0][1] / w
            uu = self.sxx[0][2] / w
            return [1.0, u, uu]
        u = math.log1p(tokens)
        return [1.0, u, u * u]

    def _coefficients(self) -> list[float]:
        a = [row[:] for row in self.sxx]
        b = self.sxy[:]
        for i in range(FEATURES):
            a[i][i] += RIDGE * (self.s + 1.0)
        return _solve(a, b)

    @staticmethod
    def _length(tokens: float | None) -> int:
        if tokens is None or not tokens >= 0.0:
            return LENGTHS
        return min(int(math.log2(1.0 + min(tokens, 1e12))), LENGTHS - 1)

    def _known(self, tokens: float | None) -> bool:
        return self.support[self._length(tokens)] >= self.p.min_support

    def residuals(self, calls: Calls, every: bool = False) -> list[float]:
        """Each call's log latency above what the curve expects for its length, for the
        calls of lengths the key has learned (`every`: for all calls)."""
        beta = self._coefficients()
        out = []
        for latency, tokens in calls:
            if not latency > 0.0 or not (every or self._known(tokens)):
                continue
            f = self._features(tokens)
            out.append(math.log(latency) - sum(c * v for c, v in zip(beta, f, strict=True)))
        return out

    def _sigma(self) -> float:
        return max(self.scale, SIGMA_FLOOR)

    # -- the verbs ---------------------------------------------------------------------------

    def is_warm(self, t: float, warmup: float) -> bool:
        return self.calls >= self.p.min_calls

    def spawn(self) -> Slowdown:
        return Slowdown(self.p)

    def judged(
        self,
        x: Calls | None,
        parent: Slowdown | None,
        root: Slowdown | None,
        t: float,
        warmup: float,
        key: tuple[str, ...] = (),
    ) -> Calls | None:
        """Nothing to judge for calls that do not say their region while the same model's
        calls that say one are judged under their own key. A key too thin to judge by its
        own curve first takes its model's as a prior (`adopt`), and knows the lengths that
        curve knows until it has as many calls of its own again (`lent`)."""
        if root is not None and len(key) >= 2 and (self.calls < self.p.min_calls or self.lent):
            prior = root.models.get(key[:-1])
            if prior is not None and prior.calls >= prior.p.min_calls:
                if self.lent is None:
                    self.adopt(prior)
                elif self.calls < 2 * self.p.min_calls:
                    self.lend(prior)
                else:
                    self.lent = None  # the key's own calls know its lengths now
        if len(key) < 2 or key[-1] != UNSAID or root is None:
            return x
        said = root.said.get(key[:-1])
        recent = said is not None and t - said <= self.p.said_within * self.p.step
        return None if recent else x

    def taught(
        self,
        key: tuple[str, ...],
        x: Calls | None,
        root: Slowdown | None,
        pending: PendingKeys,
        max_keys: int,
    ) -> None:
        """The root learns no calls itself: only that this key's model said its region now,
        and the window's calls into that model's curve over its regions (the prior of its
        thin keys)."""
        if root is not None and len(key) >= 2 and key[-1] != UNSAID:
            root.said[key[:-1]] = self.last
            if len(root.said) > max_keys:
                del root.said[min(root.said, key=root.said.__getitem__)]
            model = root.models.get(key[:-1])
            if model is None:
                model = root.models[key[:-1]] = Slowdown(self.p)
                if len(root.models) > max_keys:
                    del root.models[min(root.models, key=lambda k: root.models[k].last)]
            model.learn_one(x, self.last)
        return None

    def adopt(self, prior: Slowdown) -> None:
        """Take a warm curve (the model's over all its regions) as this thin key's prior,
        weighing as `min_calls` calls beside the key's own, and its spread: the key is judged
        from now on, and its own calls take over the curve as they come."""
        weight = self.p.min_calls / prior.s if prior.s > 0.0 else 0.0
        for i in range(FEATURES):
            self.sxy[i] += weight * prior.sxy[i]
            for j in range(FEATURES):
                self.sxx[i][j] += weight * prior.sxx[i][j]
        self.lend(prior)
        self.s += weight * prior.s
        self.scale = prior.scale
        self.calls += self.p.min_calls
        self.first = []

    def lend(self, prior: Slowdown) -> None:
        """The lengths the prior's curve has learned are known to this key, however little
        the prior weighs in its curve: its support is its own calls' and the prior's now."""
        lent = self.lent or [0.0] * len(self.support)
        self.support = [
            max(c - old, 0.0) + q
            for c, old, q in zip(self.support, lent, prior.support, strict=True)
        ]
        self.lent = list(prior.support)

    def _within(self, t: float) -> list[tuple[float, float, int, list[float]]]:
        horizon = (self.p.span - 0.5) * self.p.step
        return [w for w in self.recent if 0.0 < t - w[0] <= horizon]

    def _window(self, calls: Calls) -> tuple[float, int, list[float]]:
        sigma = self._sigma()
        bound = self.p.clip * sigma
        res = self.residuals(calls)
        total = sum(min(max(r, -bound), bound) for r in res)
        return total, len(res), res[:KEPT_RESIDUALS]

    def evidence(self, calls: Calls, t: float) -> tuple[float, float, int]:
        """(deviation in units of the alert point, z, calls) of the strongest join of this
        window with the windows of the steps before it: both the z of the mean residual and
        the median's effect must reach their bars, so the smaller of the two counts."""
        if self.calls < self.p.min_calls or not calls:
            return 0.0, 0.0, 0
        total, n, kept = self._window(calls)
        if n == 0:
            return 0.0, 0.0, 0
        sigma = self._sigma()
        bar = math.log(self.p.min_ratio) if self.p.min_ratio > 1.0 else 0.0
        # the window judged must itself be slow: the slow calls of a slowdown that has ended,
        # joined to an ordinary window, are not news
        joined = sorted(kept)  # each join's median is read off its residuals kept in order
        own = _median_of_sorted(joined) / bar if bar > 0.0 else math.inf
        best = (-math.inf, 0.0, n)
        for _, wtotal, wn, wkept in [(t, 0.0, 0, []), *reversed(self._within(t))]:
            total, n = total + wtotal, n + wn
            if wkept:
                joined.extend(wkept)
                joined.sort()  # a sorted run and a short one: a merge, not a sort
            z = total / (sigma * math.sqrt(n))
            effect = _median_of_sorted(joined)
            deviation = min(z / self.p.z, effect / bar if bar > 0.0 else math.inf, own)
            if deviation > best[0]:
                best = (deviation, z, n)
        return best

    def score_one(self, x: Calls | None, t: float, n: int = 0) -> float:
        if not x:
            return 0.0
        deviation = self.evidence(x, t)[0]
        return deviation_score(deviation, 1.0)

    def describe(self, x: Calls | None, t: float, n: int = 0) -> dict[str, Any]:
        calls = x or []
        res = self.residuals(calls) if self.calls else []
        _, z, joined = self.evidence(calls, t)
        lat = sorted(c[0] for c in calls)
        return {
            "value": round(median(lat), 3) if lat else None,
            "calls": len(calls),
            "slowdown": round(math.exp(median(res)), 3) if res else None,
            "z": round(z, 3),
            "calls_joined": joined,
            "sigma": round(self._sigma(), 4),
        }

    def learn_one(self, x: Calls | None, t: float, n: int = 0) -> None:
        if not x:
            return
        self.last = t
        warm = self.calls >= self.p.min_calls
        total, count, kept = self._window(x) if warm else (0.0, 0, [])
        alarming = warm and self.score_one(x, t) >= 0.5
        self.recent = self._within(t + self.p.step)
        if warm:
            self.recent.append((t, total, count, kept))
        if alarming and self.run < self.p.adapt_after:
            self.run += 1  # a slowdown must not teach the curve that slow is usual
            return
        self.run = 0
        self._teach(x, warm)

    def _teach(self, calls: Calls, warm: bool) -> None:
        keep = 1.0 - 1.0 / self.p.memory
        bound = self.p.clip * self._sigma()
        beta = self._coefficients() if warm else None
        for latency, tokens in calls:
            if not latency > 0.0:
                continue
            f = self._features(tokens)
            y = math.log(latency)
            length = self._length(tokens)
            # a length new to the key is news to the curve, not an outlier: learned in full
            if beta is not None and self.support[length] >= self.p.min_support:
                fit = sum(c * v for c, v in zip(beta, f, strict=True))
                r = y - fit
                rc = min(max(r, -bound), bound)
                y = fit + rc  # Huber: an outlier moves the curve by its clipped size only
                rate = max(1.0 / (self.calls + 1), 1.0 / self.p.memory)
                self.scale += rate * (MAD_TO_SIGMA * abs(rc) - self.scale)
            self.s = keep * self.s + 1.0
            self.support = [keep * c for c in self.support]
            self.support[length] += 1.0
            for i in range(FEATURES):
                self.sxy[i] = keep * self.sxy[i] + f[i] * y
                row = self.sxx[i]
                for j in range(FEATURES):
                    row[j] = keep * row[j] + f[i] * f[j]
            self.calls += 1
        if not warm:
            self.first.extend(calls)
            if self.calls >= self.p.min_calls:
                self._calibrate()

    def _calibrate(self) -> None:
        """The spread once the curve is first fitted: the warm-up calls' residuals (later
        windows refine it), so the first judged window is not judged by a zero sigma."""
        res = self.residuals(self.first, every=True)
        self.first = []
        if res:
            mid = median(res)
            self.scale = MAD_TO_SIGMA * sum(abs(r - mid) for r in res) / len(res)


def _median_of_sorted(data: list[float]) -> float:
    """`statistics.median` of data already sorted: the same value, without sorting again.

    >>> _median_of_sorted([1.0, 2.0, 4.0, 8.0]) == median([8.0, 1.0, 4.0, 2.0])
    True
    """
    n = len(data)
    if n % 2 == 1:
        return data[n // 2]
    return (data[n // 2 - 1] + data[n // 2]) / 2


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting for the small normal equations."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[piv][col]) < 1e-12:
            continue
        m[col], m[piv] = m[piv], m[col]
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for i in range(n - 1, -1, -1):
        if abs(m[i][i]) < 1e-12:
            continue
        x[i] = (m[i][n] - sum(m[i][j] * x[j] for j in range(i + 1, n))) / m[i][i]
    return x
