"""The quiet period after a surprise: the largest score of the last N points, in a few numbers.

An anomaly should announce itself once. Its aftermath (the points after a step, which stay
far from a model that still remembers the old level) and a spike of a size that recurs are
not news; a detector says so by letting a score count in full only when it passes the
largest of the last `length` points. Keeping those points to take their maximum would cost
a buffer of `length` floats per key; the maximum of block maxima (eight blocks of
`length / 8` points) forgets the oldest block at once instead of point by point, which is
as good for a quiet period and keeps the state at ten numbers whatever its length.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

BLOCKS = 8  # the quiet period is kept as the maxima of this many blocks
PASS = 1e-3  # by how much a score must pass the quiet period's to be news


class QuietPeriod:
    """The largest score remembered over about `length` points (0 or less: no quiet period).

    >>> q = QuietPeriod(16)
    >>> for s in [0.1, 0.9, 0.2]:
    ...     q.remember(s)
    >>> q.bar()
    0.9
    >>> for _ in range(20):
    ...     q.remember(0.0)
    >>> q.bar()
    0.0
    """

    __slots__ = ("block", "blocks", "filled", "length", "pending")

    def __init__(self, length: int) -> None:
        self.length = length
        self.blocks: list[float] = []  # the largest score of each past block
        self.block = 0.0  # ... of the current block, and how many points it holds
        self.filled = 0
        # the point last scored and its score before suppression, until that point is learned
        # (not saved: a restored model scores its next point afresh)
        self.pending: tuple[Any, float] | None = None

    def bar(self) -> float:
        """The largest score of the period (-inf without a quiet period: everything counts)."""
        if self.length <= 0:
            return -math.inf
        bar = self.block
        for b in self.blocks:
            if b > bar:
                bar = b
        return bar

    def remember(self, score: float) -> None:
        if self.length <= 0:
            return
        if score > self.block:
            self.block = score
        self.filled += 1
        size = -(-self.length // BLOCKS)
        if self.filled >= size:
            self.blocks.append(self.block)
            # at most seven whole blocks and the current one, and no more whole blocks than
            # fit in the period (a period shorter than eight points keeps exactly its length)
            if len(self.blocks) > min(BLOCKS - 1, self.length // size):
                del self.blocks[0]
            self.block, self.filled = 0.0, 0

    def copy(self) -> QuietPeriod:
        twin = QuietPeriod(self.length)
        twin.blocks, twin.block, twin.filled = list(self.blocks), self.block, self.filled
        return twin

    def __getstate__(self) -> tuple[int, list[float], float, int]:
        return (self.length, self.blocks, self.block, self.filled)

    def __setstate__(self, state: tuple[int, list[float], float, int]) -> None:
        self.length, self.blocks, self.block, self.filled = state
        self.pending = None


def damped(score: float, bar: float, margin: float, keep: float) -> float:
    """A score capped at 1 that counts in full when it passes the quiet period's `bar` by
    `margin`, and keeps the share `keep` otherwise (capped first, so a damped score stays
    below `keep` however large the surprise it damps)."""
    capped = min(1.0, score)
    return capped if score > bar + margin else keep * capped


def from_saved(saved: dict[str, Any], length: int) -> QuietPeriod:
    """The quiet period of a snapshot written when a model kept it in its own fields
    (`blocks`, `block`, `filled`), which `saved` loses."""
    q = QuietPeriod(length)
    q.blocks = list(saved.pop("blocks", []))
    q.block = saved.pop("block", 0.0)
    q.filled = saved.pop("filled", 0)
    return q


def repeat_period(length: int) -> QuietPeriod | None:
    """The quiet period that suppresses repeats over `length` points, or None (0: off, and
    a key then carries nothing for it)."""
    return QuietPeriod(length) if length > 0 else None


def unrepeated(score: float, quiet: QuietPeriod | None, point: object = None) -> float:
    """The score if it passes every score of the quiet period by more than `PASS` (a chart
    held at its cap creeps towards it in the last digits), else 0 (as it is without a quiet
    period). An excursion that lasts, or comes back within the period, is announced
    once, on its most surprising point so far: its aftermath (the points after a step that
    a model still lags) and a spike of a size that recurs are no news.

    >>> q = QuietPeriod(3)
    >>> scores = []
    >>> for s in [0.2, 0.9, 0.5, 0.95, 0.1, 0.0, 0.0, 0.3]:
    ...     scores.append(unrepeated(s, q))
    ...     q.remember(s)
    >>> scores
    [0.2, 0.9, 0.0, 0.95, 0.0, 0.0, 0.0, 0.3]

    With `point` (what the score was computed from), the score is kept for
    `remember_scored`, so that learning the point does not compute it again.
    """
    if quiet is None:
        return score
    if point is not None:
        quiet.pending = (point, score)
    return score if score > quiet.bar() + PASS else 0.0


def remember_scored(quiet: QuietPeriod, point: object, score: Callable[[], float]) -> None:
    """Remember a learned point's score before suppression: the one `unrepeated` kept for
    that very point (the model has learned nothing since), else `score()`. Computing a
    model's score costs about as much as learning the point; doing it once halves that.

    >>> q, calls = QuietPeriod(4), []
    >>> def compute() -> float:
    ...     calls.append(1)
    ...     return 0.7
    >>> unrepeated(compute(), q, (1.0, 0.0, 0))
    0.7
    >>> remember_scored(q, (1.0, 0.0, 0), compute)  # kept: not computed again
    >>> remember_scored(q, (2.0, 60.0, 0), compute)  # never scored: computed
    >>> len(calls), q.bar()
    (2, 0.7)
    """
    pending, quiet.pending = quiet.pending, None
    quiet.remember(pending[1] if pending is not None and pending[0] == point else score())
