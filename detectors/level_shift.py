"""A level shift vote: the mean of the last few standardised values against its own spread.

A single point's test must stay quiet on the largest of hundreds of noise draws, so it wants
six or more standard deviations before it speaks, and a step whose first point happens to
land a little low is then missed: the points after it are no more surprising than the first,
and a quiet period that remembers the first damps them. The mean of the last `points` values
(each standardised against the window before it) spreads 1/sqrt(points) on white noise, so a
step of six standard deviations stands about ten of the mean's spreads out by its third
point. Autocorrelated noise wanders in runs and its short means spread wider, so that spread
is learned, not assumed: the exponentially weighted root mean square of the mean over about
`memory` points, on each side of zero apart (the means of a skewed metric, counts of rare
events, stray further on its long side), never below the white-noise value. Each square is
winsorised at three spreads (`detectors.robust_scale`): unclipped, a spike of 50 standard
deviations (three means of about 17) more than doubled the spread for hundreds of points,
and a step of six standard deviations that followed it was missed one time in two.

The vote speaks only when every averaged value lies at least half the mean out on the mean's
side: a spike among ordinary values is the single point's business, and a step is judged
once all its averaged points are on it, in one go rather than as a mean that fills up over
`points` points. It counts in full only when its z passes the largest z of its quiet period
(at least what the largest of that many draws of white noise reaches) by `MARGIN`, and by
`RATIO` of it: after a step the mean stays far out while the window learns the new level,
and a shift as large as one lately is no news. A step that the single point's test has
announced on its first point is no news either: the quiet period then remembers the z its
mean would reach. Nothing is said before the quiet period has filled once.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from statistics import NormalDist

from detectors.quiet_period import QuietPeriod
from detectors.robust_scale import capped, variance
from detectors.scoring import directed

WARMUP = 30  # points learned before the mean's squares are winsorised
MARGIN = 1.0  # z by which the mean must pass its quiet period's largest to count in full
RATIO = 1.4  # ... and the share of it (the largest of large z's spreads with their size)
_SQRT2 = math.sqrt(2.0)
_FLOOR = 1e-300


@functools.cache
def noise_max(n: int, one_sided: bool) -> float:
    """The z that one in `n` draws of a normal variable passes (on one side, or on either):
    about the largest of `n` draws of white noise.

    >>> round(noise_max(500, False), 2), round(noise_max(500, True), 2)
    (3.09, 2.88)
    """
    chance = 1.0 / max(2, n)
    return NormalDist().inv_cdf(1.0 - (chance if one_sided else 0.5 * chance))


def tail_of(z: float, direction: str) -> float:
    """The normal tail probability of a z of the mean (one-sided with a direction)."""
    if not z > 0.0:
        return 1.0
    p = math.erfc(z / _SQRT2)
    return max(_FLOOR, 0.5 * p if direction != "both" else p)


class LevelShift:
    """The mean of the last `points` standardised values, scored by its normal tail under its
    learned spread (see the module docstring).

    >>> v = LevelShift(points=3, memory=1000, quiet=500)
    >>> for i in range(600):
    ...     v.learn((-1.0) ** i)  # means of three alternate +-1/3: the white spread holds
    >>> round(v.spread(), 4)  # 1 / sqrt(3)
    0.5774
    >>> zs = []
    >>> for u in (4.0, 4.0, 4.0):  # a step of four standard deviations
    ...     zs.append(round(v.z(u, "both"), 2))
    ...     v.learn(u)
    >>> zs  # silent until every averaged value is on the step: then 4 sqrt(3)
    [0.0, 0.0, 6.93]
    """

    __slots__ = ("memory", "n", "points", "quiet", "recent", "square")

    def __init__(self, points: int, memory: int, quiet: int) -> None:
        self.points = points
        self.memory = memory
        self.recent: deque[float] = deque(maxlen=points - 1)  # the values before the newest
        # the EW mean squares of the means of `points` values above and below 0 (a skewed
        # metric's means stray further on its long side)
        self.square = [0.0, 0.0]
        self.n = 0
        self.quiet = QuietPeriod(quiet)  # the largest z of the quiet period

    def mean_with(self, u: float) -> float | None:
        """The mean of the last `points` values with `u` (None before there are as many)."""
        if self.n < self.points or len(self.recent) < self.points - 1:
            return None
        return (sum(self.recent) + u) / self.points

    def spread(self, side: float = 1.0) -> float:
        """The learned spread of the mean on the side of `side`'s sign, never below its
        white-noise value."""
        white = 1.0 / math.sqrt(self.points)
        return max(math.sqrt(variance(self.square[side < 0.0])), white)

    def z(self, u: float, direction: str) -> float:
        """The directed mean of the last values with `u`, in spreads of the mean, when each
        of those values lies at least half the mean out on its side, else 0: a step whose
        points have not all arrived, or one large value among ordinary ones, is not a shift
        (the single point's test speaks for a spike). Nor is anything said before the quiet
        period has filled once: its bar would be too low."""
        m = self.mean_with(u)
        if m is None or self.n < self.points + self.quiet.length:
            return 0.0
        d = directed(m, direction)
        if not d > 0.0:
            return 0.0
        half = 0.5 * m
        if any(abs(w) < abs(half) or w * half < 0.0 for w in (*self.recent, u)):
            return 0.0
        return d / self.spread(m)

    def tail(self, u: float, direction: str) -> float:
        """The normal tail probability of the mean with `u` (one-sided with a direction)."""
        return tail_of(self.z(u, direction), direction)

    def bar(self, direction: str) -> float:
        """The largest z of the quiet period, and never less than what the largest of a
        quiet period of white noise reaches (`noise_max`)."""
        return max(self.quiet.bar(), noise_max(self.quiet.length, direction != "both"))

    def counts(self, z: float, direction: str) -> bool:
        """Whether a z of the mean (`z`) passes the quiet period's largest by the margin."""
        bar = self.bar(direction)
        return z > max(bar + MARGIN, RATIO * bar)

    def learn(self, u: float, direction: str = "both", announced: bool = False) -> None:
        """Learn a standardised value (0 for one that could not be standardised). `announced`:
        the single point's test announced this value, so the mean reaching it is no news: the
        quiet period remembers the z the mean would have if the value persisted."""
        z = self.z(u, direction)
        if announced:
            z = max(z, directed(u, direction) / self.spread(u))
        self.quiet.remember(z)
        m = (sum(self.recent) + u) / (len(self.recent) + 1)
        self.n += 1
        # each side sees about half the points: its rate is that of half the memory
        alpha = max(2.0 / (self.n + 1), 2.0 / self.memory)
        side = 1 if m < 0.0 else 0
        # winsorised once the spread has been learned a little: one spike among the values
        # (three means far out) adds what a mean of three spreads adds, whatever its size
        m2 = m * m if self.n <= WARMUP + self.points else capped(m * m, self.spread(m) ** 2)
        self.square[side] += alpha * (m2 - self.square[side])
        self.recent.append(u)

    def spawn(self) -> LevelShift:
        """A vote for a new key with this one's spread of the mean, and none of its values."""
        child = LevelShift(self.points, self.memory, self.quiet.length)
        child.square, child.n = list(self.square), self.n
        return child
