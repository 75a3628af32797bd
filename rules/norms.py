"""A correlation group's own norm: a threshold that scales with a person's habits.

A fixed count cannot serve a whole organisation: the busiest people start more sessions in
five minutes than a quiet person's runaway loop does in two. With `spanwatch: {norm: ...}`
a correlation learns, per group (a person), how high its measured value goes in ordinary
work, and the group's threshold becomes

    max(the condition's number, ceil(factor * q))

where q is the `quantile` of the group's *block peaks* (the largest value measured within
each timespan-long block of event time in which the group had inputs), shrunk towards its
`by` group's typical member (the median of the team's people's own quantiles) as if that were
`prior` blocks of its own: a newcomer is judged by their team's typical person, and a
person's own habits take over as they build up. The typical member, not the team's pooled
tail: a team with a few people who open many sessions at once must not blind its newcomers.
A block in which the threshold was reached teaches nothing: a runaway does not teach its own
norm, and what raises a person's threshold is a habit of blocks below it (a person who often
starts five or six sessions at once may start eight). Histories decay (`HALF_LIFE_BLOCKS`), so
an old habit fades.

Memory is bounded: a history is `NORM_BINS` weights (values at or above the last bin share
it), a team `NORM_BINS` counts of its members' quantiles; at most `max_groups` groups and as
many teams are kept, least recently seen evicted (an evicted person leaves their team's count).
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
    prior: float = 20.0


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

    def quantile(self, q: float) -> int:
        """The least value with at least `q` of the weight at or below it (0 when empty)."""
        wanted, running = q * self.total, 0.0
        for value, w in enumerate(self.weights):
            running += w
            if running >= wanted - 1e-9:
                return value
        return NORM_BINS - 1


class Members:
    """How many of a team's people have each own quantile: the team's typical member."""

    __slots__ = ("count", "counts")

    def __init__(self) -> None:
        self.counts = [0] * NORM_BINS
        self.count = 0

    def move(self, old: int, new: int) -> None:
        """A member's quantile changed from `old` to `new` (-1: not counted)."""
        if old >= 0 and self.counts[old] > 0:
            self.counts[old] -= 1
            self.count -= 1
        if new >= 0:
            self.counts[new] += 1
            self.count += 1

    def median(self) -> int:
        running = 0
        for value, n in enumerate(self.counts):
            running += n
            if 2 * running >= self.count:
                return value
        return 0


class GroupNorm:
    """One group's history, its quantile as its team counts it, and the block in progress."""

    __slots__ = ("block", "counted", "fired", "history", "parent", "peak", "threshold")

    def __init__(self, parent: str) -> None:
        self.history = History()
        self.parent = parent
        self.counted = -1  # the own quantile the team holds for it (-1: none yet)
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
        self.parents: OrderedDict[str, Members] = OrderedDict()

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
        """ceil(factor * q): q the group's own quantile shrunk towards its team's typical
        member's, as if the team's were `prior` blocks of the group's own."""
        spec, own = self.spec, norm.history
        team = self.parents.get(norm.parent) if spec.by is not None else None
        typical = team.median() if team is not None and team.count else 0
        mine = own.quantile(spec.quantile) if own.total > 0 else 0
        weight = own.total / (own.total + spec.prior) if own.total + spec.prior > 0 else 1.0
        q = weight * mine + (1.0 - weight) * typical
        return float(math.ceil(spec.factor * q - 1e-9))

    def _close_block(self, norm: GroupNorm) -> None:
        """Learn the finished block's peak (not if it fired), and tell the team."""
        if norm.block == -math.inf or norm.fired:
            return
        norm.history.add(norm.peak)
        if self.spec.by is None:
            return
        team = self.parents.get(norm.parent)
        if team is None:
            team = self.parents[norm.parent] = Members()
            if len(self.parents) > self.max_groups:
                self.parents.popitem(last=False)
        else:
            self.parents.move_to_end(norm.parent)
        mine = norm.history.quantile(self.spec.quantile)
        team.move(norm.counted, mine)
        norm.counted = mine

    def _norm(self, key: tuple[str, ...], parent: str) -> GroupNorm:
        groups = self.groups
        norm = groups.get(key)
        if norm is None:
            norm = groups[key] = GroupNorm(parent)
            if len(groups) > self.max_groups:
                _, gone = groups.popitem(last=False)
                self._leave(gone)
        else:
            groups.move_to_end(key)
            if parent and parent != norm.parent:  # moved team: the new team is the prior
                self._leave(norm)
                norm.parent = parent
        return norm

    def _leave(self, norm: GroupNorm) -> None:
        """The group no longer counts among its team's members."""
        team = self.parents.get(norm.parent)
        if team is not None:
            team.move(norm.counted, -1)
        norm.counted = -1


def _bin(value: float) -> int:
    if not value > 0:  # NaN and negatives in the first bin
        return 0
    return min(int(value), NORM_BINS - 1)
