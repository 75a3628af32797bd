"""Steady surges: sequential evidence that a key's windows run several times its typical one.

Why not the largest ordinary window or total (`sustained`): a person's surge of spend of a few
times their usual rate costs, in its first quarter of an hour, less than their heaviest
ordinary quarter hour, so a bar on the largest ordinary value pages it only after an hour or
more. What sets it apart early is that it is steady: window after window at several times
what the person typically spends, where a heavy ordinary stretch is one or two large windows
among ordinary ones. So each window adds the log-likelihood ratio of "`ratio` times typical"
against "typical" (a CUSUM, Page's test), under a log-normal model of the key's active
windows whose centre is their median and whose spread their median absolute deviation (robust
to the heavy windows themselves). One window adds at most a `min_windows`-th of the evidence
that alerts, so no single heavy window, however large, alerts alone; a window without
activity counts as one at a `ratio`-th of typical, so a stretch broken by pauses falls back.

The typical window is the median of the key's last `history` active windows: a surge of an
hour is a few of them and barely moves it, while a person whose habits change is followed.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from detectors.persist import restore_slots
from detectors.window_model import WindowModel

_MAD_TO_SIGMA = 1.4826  # a normal distribution's sigma over its median absolute deviation


@dataclass(frozen=True)
class SteadySurgeParams:
    """ratio: the surge tested, a multiple of the key's typical active window.

    quantile: which of the key's active windows is its typical one (0.5: the median; higher
    for keys whose active windows include many light ones, such as a session's last call).

    nats: the evidence (log-likelihood ratio) at which the score reaches 0.5.
    min_windows: the fewest windows that can reach `nats` (each adds at most nats/min_windows).
    spread_floor: the least spread (sigma of log values) a key is judged with; a key whose
    windows barely vary would otherwise gather evidence from tiny departures.
    history: active windows kept for the typical window and the spread.
    settle: active windows a key needs before it is judged (a newcomer is not).
    step: the window's length, set from the detector's interval.
    """

    ratio: float = 3.0
    quantile: float = 0.5
    nats: float = 6.0
    min_windows: int = 3
    spread_floor: float = 0.5
    history: int = 200
    settle: int = 24
    step: float = 300.0


def _quantile(ranked: list[float], q: float) -> float:
    """The q-quantile of sorted values, interpolated between neighbours (q 0.5: the median)."""
    at = q * (len(ranked) - 1)
    lo = int(at)
    hi = min(lo + 1, len(ranked) - 1)
    return ranked[lo] + (at - lo) * (ranked[hi] - ranked[lo])


# A window as judged: (value, evidence after it, typical value, spread of log values).
SteadySeen = tuple[float, float, float, float]


class SteadySurge(WindowModel[SteadySurgeParams, float, float | SteadySeen]):
    """One key's recent active windows (log values, in arrival and in sorted order) and its
    running evidence of a surge.

    >>> m = SteadySurge(SteadySurgeParams(settle=5))
    >>> for i in range(30):
    ...     m.learn_one(1.0 + (i % 3) * 0.5, i * 300.0)
    >>> m.score_one(m.judged(50.0, None, None, 30 * 300.0, 0.0), 0.0) < 0.5  # one window
    True
    >>> for i in range(30, 34):
    ...     seen = m.judged(5.0, None, None, i * 300.0, 0.0)
    ...     m.learn_one(5.0, i * 300.0)
    >>> m.score_one(seen, 0.0) >= 0.5
    True
    """

    __slots__ = ("evidence", "last", "logs", "p", "ranked")
    Params = SteadySurgeParams
    inherits = False

    def __init__(self, params: SteadySurgeParams | None = None) -> None:
        self.p = params or SteadySurgeParams()
        self.logs: deque[float] = deque()  # log values of the last `history` active windows
        self.ranked: list[float] = []  # the same, sorted
        self.evidence = 0.0  # the CUSUM after the last active window
        self.last = -math.inf  # that window's start

    def __setstate__(self, state: tuple[Any, dict[str, Any]]) -> None:
        restore_slots(self, state)

    def baseline(self) -> tuple[float, float]:
        """(the `quantile` of the kept windows' log values, their spread about the median)."""
        return _quantile(self.ranked, self.p.quantile), self.spread()

    def spread(self) -> float:
        """Sigma of the kept log values from their median absolute deviation (floored)."""
        mid = _quantile(self.ranked, 0.5)
        mad = _quantile(sorted(abs(v - mid) for v in self.ranked), 0.5)
        return max(self.p.spread_floor, _MAD_TO_SIGMA * mad)

    def step_evidence(self, x: float, t: float) -> float:
        """The evidence after a window of value x at t (the idle windows since the last
        active one first lower it), without keeping it."""
        if len(self.ranked) < 2:
            return 0.0
        mid, spread = self.baseline()
        d = math.log(self.p.ratio)
        gain = d / (spread * spread)  # nats per unit of log value above the midpoint
        idle = max(0.0, round((t - self.last) / self.p.step) - 1.0)
        evidence = max(0.0, self.evidence - idle * gain * 0.5 * d)
        z = math.log(x) - mid if x > 0.0 else -d
        step = gain * (max(-d, z) - 0.5 * d)
        return max(0.0, evidence + min(step, self.p.nats / self.p.min_windows))

    def judged(
        self,
        x: float,
        parent: SteadySurge | None,
        root: SteadySurge | None,
        t: float,
        warmup: float,
        key: tuple[str, ...] = (),
    ) -> SteadySeen:
        """(value, evidence after it, typical value, spread)."""
        evidence = self.step_evidence(float(x), t)
        mid, spread = self.baseline() if len(self.ranked) >= 2 else (0.0, 0.0)
        return float(x), evidence, math.exp(mid) if self.ranked else 0.0, spread

    def score_one(self, x: float | SteadySeen, t: float, n: int = 0) -> float:
        if not isinstance(x, tuple):  # a series scored on its own (`spanwatch score`)
            return min(1.0, 0.5 * self.step_evidence(float(x), t) / self.p.nats)
        if len(self.ranked) < self.p.settle:
            return 0.0
        return min(1.0, 0.5 * x[1] / self.p.nats)

    def learn_one(self, x: float, t: float, n: int = 0) -> None:
        value = float(x)
        self.evidence = self.step_evidence(value, t)
        self.last = t
        if value <= 0.0:
            return
        y = math.log(value)
        self.logs.append(y)
        bisect.insort(self.ranked, y)
        if len(self.logs) > self.p.history:
            old = self.logs.popleft()
            del self.ranked[bisect.bisect_left(self.ranked, old)]

    def describe(self, x: float | SteadySeen, t: float, n: int = 0) -> dict[str, Any]:
        seen = x if isinstance(x, tuple) else self.judged(float(x), None, None, t, 0.0)
        value, evidence, typical, spread = seen
        return {
            "value": round(value, 6),
            "baseline": round(typical, 6),
            "multiple": round(value / typical, 2) if typical > 0.0 else None,
            "evidence_nats": round(evidence, 3),
            "bar_nats": self.p.nats,
            "log_spread": round(spread, 3),
            "surge_ratio": self.p.ratio,
        }

    def is_warm(self, t: float, warmup: float) -> bool:
        return len(self.ranked) >= self.p.settle

    def spawn(self) -> SteadySurge:
        return SteadySurge(self.p)

    @classmethod
    def empty_point(cls, aggregations: Any) -> None:
        return None  # idle windows are counted from the gap between active ones
