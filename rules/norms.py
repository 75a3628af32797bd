"""A correlation group's own norm: a threshold that scales with a person's habits.

A fixed count cannot serve a whole organisation: the busiest people start more sessions in
five minutes than a quiet person's runaway loop does in two. With `spanwatch: {norm: ...}`
a correlation learns, per group (a person), how high its measured value goes in ordinary
work, and the group's threshold becomes

    max(the condition's number, ceil(factor * q))

where q is the `quantile` of the group's *block peaks*: the largest value measured within
each timespan-long block of event time in which the group had inputs. Its history is blended
with the pooled history of its `by` group (the person's team), worth `prior` blocks, so a
newcomer is judged by the team's habits and a person's own habits take over as they build up.
A block in which the threshold was reached teaches nothing: a runaway does not teach its own
norm, and what raises a person's threshold is a habit of blocks below it (a person who often
starts five or six sessions at once may start eight). Histories decay (`HALF_LIFE_BLOCKS`), so
an old habit fades.

Memory is bounded: a history is `NORM_BINS` weights (values at or above the last bin share
it), at most `max_groups` groups and as many parents are kept, least recently seen evicted.
The threshold is worked out once per block, not per input.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

NORM_BINS = 64
HALF_LIFE_BLOCKS = 1000.0  # active blocks (about two working weeks of 5-minute blocks)
_DECAY = 0.5 ** (1.0 / HALF_LIFE_BLOCKS)


@dataclass(frozen=True)
class NormSpec:
    """`norm:` of a correlation, as plain picklable data."""

    by: str | None = "team"
    quantile: float = 0.99
    factor: float = 2.0
    prior: float = 50.0


class History:
    """Decayed weights of block peaks by value (0 .. NORM_BINS - 1, the last bin open)."""

    __slots__ = ("total", "weights")

    def __init__(self) -> None:
        self.weights = [0.0] * NORM_BINS
        self.total = 0.0

    def add(self, value: float) -> None:
        weights = self.weights
        for i, w in enumerate(weights):
            if w:
                weights[i] = w * _DECAY
        weights[_bin(value)] += 1.0
        self.total = self.total * _DECAY + 1.0


class GroupNorm:
    """One group's history and the block in progress (its peak, whether it fired)."""

    __slots__ = ("block", "fired", "history", "parent", "peak", "threshold")

    def __init__(self, parent: str) -> None:
        self.history = History()
        self.parent = parent
        self.block = -math.inf
        self.peak = 0.0
        self.fired = False
        self.threshold = 0.0


class Norms:
    """Every group's norm for one correlation rule: plain attributes, so it pickles."""

    def __init__(self, spec: NormSpec, timespan: float, max_groups: int) -> None:
        self.spec = spec
        self.timespan = timespan
        self.max_groups = max_groups
        self.groups: OrderedDict[tuple[str, ...], GroupNorm] = OrderedDict()
        self.parents: OrderedDict[str, History] = OrderedDict()

    def reached(
        self, key: tuple[str, ...], parent: str, t: float, measured: float, floor: bool
    ) -> bool:
        """Whether `measured` reaches the group's own threshold and the condition's number
        (`floor`) holds; learns the block peaks."""
        norm = self._norm(key, parent)
        block = math.floor(t / self.timespan) if self.timespan > 0 else 0.0
        if block > norm.block:
            self._close_block(norm)
            norm.block, norm.peak, norm.fired = block, 0.0, False
            norm.threshold = self.threshold_of(norm)
        reached = floor and measured >= norm.threshold
        norm.peak = max(norm.peak, measured)
        norm.fired = norm.fired or reached
        return reached

    def threshold(self, key: tuple[str, ...]) -> float:
        """The group's threshold in its current block (0 for a group never seen)."""
        norm = self.groups.get(key)
        return norm.threshold if norm is not None else 0.0

    def threshold_of(self, norm: GroupNorm) -> float:
        """ceil(factor * q): q the quantile of the group's peaks blended with its parent's."""
        spec = self.spec
        own = norm.history
        pooled = self.parents.get(norm.parent)
        share = 0.0
        if pooled is not None and pooled.total > 0:
            share = spec.prior / pooled.total
        total = own.total + (pooled.total * share if pooled is not None else 0.0)
        if total <= 0:
            return 0.0
        wanted = spec.quantile * total
        running = 0.0
        for value in range(NORM_BINS):
            running += own.weights[value]
            if pooled is not None:
                running += pooled.weights[value] * share
            if running >= wanted:
                return float(math.ceil(spec.factor * value))
        return float(math.ceil(spec.factor * (NORM_BINS - 1)))

    def _close_block(self, norm: GroupNorm) -> None:
        """Learn the finished block's peak, for the group and its parent (not if it fired)."""
        if norm.block == -math.inf or norm.fired:
            return
        norm.history.add(norm.peak)
        if self.spec.by is None:
            return
        pooled = self.parents.get(norm.parent)
        if pooled is None:
            pooled = self.parents[norm.parent] = History()
            if len(self.parents) > self.max_groups:
                self.parents.popitem(last=False)
        else:
            self.parents.move_to_end(norm.parent)
        pooled.add(norm.peak)

    def _norm(self, key: tuple[str, ...], parent: str) -> GroupNorm:
        groups = self.groups
        norm = groups.get(key)
        if norm is None:
            norm = groups[key] = GroupNorm(parent)
            if len(groups) > self.max_groups:
                groups.popitem(last=False)
        else:
            groups.move_to_end(key)
            if parent and parent != norm.parent:
                norm.parent = parent  # a person who moved team: the new team is the prior
        return norm


def _bin(value: float) -> int:
    if not value > 0:  # NaN and negatives in the first bin
        return 0
    return min(int(value), NORM_BINS - 1)
