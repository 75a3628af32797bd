"""The organisation's calls as a baseline for each caller's: the pooled half of `kind: creep`.

A caller's calls are judged against everyone's at the same place in a session, moved by the
caller's own level. That is a two-level model: a call's log size is the place's level, plus
the caller's offset from it (people differ: their offsets spread with a between-caller
variance tau^2), plus the call's own noise (within-caller variance w^2). The detector's root
model learns the places' levels, the spread of everyone's calls about them (tau^2 + w^2) and
the spread of each caller's calls about their own offset (w^2), each per place (people differ
in their first calls more than in a long session's late ones); a caller's offset at a place
is the mean of their calls' excess there, shrunk towards the pool's by w^2 / tau^2 calls' worth
(the usual estimate of one member of a population). So a caller with a handful of calls is
judged much as anyone would be, and one with hundreds by their own level; and a caller whose
prompts are always larger than most is not a creep once a few of their calls are seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from detectors.scoring import MAD_TO_SIGMA

POOL_ALPHA = 0.002  # the pool's slowest learning rate per call (of everyone's calls)
KNOWN = 10.0  # a caller's calls at a place before their own mean teaches the within-caller sigma
_SHRINK_CAP = 1e4  # no visible difference between callers: the offset hardly moves


@dataclass(frozen=True)
class Lent:
    """The pool's baseline as a key sees it: per place (level, within-caller sigma w,
    shrink), or None where too few calls settled it. A w of 0: the place lends its level (for
    the callers' offsets) but judges nothing yet. `shrink`: calls of a caller's own at the
    place that weigh as much as the pool's level there (w^2 / tau^2)."""

    places: tuple[tuple[float, float, float] | None, ...]


class PlacePool:
    """Everyone's calls per place in a session: running level, robust sigma about it, and
    robust sigma of each call about its caller's own mean at the place."""

    __slots__ = ("lent", "lent_at", "level", "min_place", "n", "nw", "scatter", "within")

    def __init__(self, places: int, min_place: int) -> None:
        self.min_place = min_place  # calls at a place before it lends (and before it judges)
        self.lent: Lent | None = None  # what was lent for the window starting at `lent_at`
        self.lent_at = math.nan
        self.level = [0.0] * places
        self.scatter = [0.0] * places  # sigma of everyone's calls about the level
        self.within = [0.0] * places  # sigma of calls about their caller's own mean
        self.n = [0] * places  # calls that taught the level and scatter
        self.nw = [0] * places  # calls that taught `within`

    def learn(self, place: int, y: float, residual: float | None, clip: float) -> None:
        """One call (log size y) at its place; `residual`: its excess over the level and its
        caller's own mean excess there, when both are known (clipped, as the level's steps)."""
        n = self.n[place] = self.n[place] + 1
        if n == 1:
            self.level[place] = y
            return
        rate = max(1.0 / n, POOL_ALPHA)
        sigma = self.scatter[place]
        r = _clipped(y - self.level[place], clip * sigma)
        self.level[place] += rate * r
        self.scatter[place] = sigma + rate * (MAD_TO_SIGMA * abs(r) - sigma)
        if residual is not None:
            m = self.nw[place] = self.nw[place] + 1
            w = self.within[place]
            step = MAD_TO_SIGMA * abs(_clipped(residual, clip * w)) - w
            self.within[place] = w + max(1.0 / m, POOL_ALPHA) * step

    def lend_at(self, t: float) -> Lent | None:
        """The baseline lent to every key of the window starting at t (made once a window)."""
        if t != self.lent_at:
            self.lent, self.lent_at = self.lend(self.min_place), t
        return self.lent

    def lend(self, min_place: int) -> Lent | None:
        """The baseline a key is judged by, once some place has `min_place` calls (None:
        none has yet); a place judges once as many calls taught its within-caller sigma."""
        places: list[tuple[float, float, float] | None] = []
        for level, s, w, n, nw in zip(
            self.level, self.scatter, self.within, self.n, self.nw, strict=True
        ):
            if n < min_place or not s > 0.0:
                places.append(None)
            elif nw < min_place or not w > 0.0:
                places.append((level, 0.0, _SHRINK_CAP))
            else:
                tau2 = s * s - w * w
                shrink = _SHRINK_CAP if not tau2 > 0.0 else min(w * w / tau2, _SHRINK_CAP)
                places.append((level, w, shrink))
        return Lent(tuple(places)) if any(places) else None


class Offset:
    """A caller's own level above the pool's at each place: their calls' excess there, summed
    with forgetting."""

    __slots__ = ("total", "weight")

    def __init__(self, places: int) -> None:
        self.total = [0.0] * places  # decayed sum of the calls' excess over the place's level
        self.weight = [0.0] * places  # decayed count of those calls

    def value(self, lent: Lent, place: int) -> float:
        """The offset at a place, shrunk towards the pool's (0) by the place's `shrink`."""
        settled = lent.places[place]
        return 0.0 if settled is None else self.total[place] / (self.weight[place] + settled[2])

    def own(self, place: int) -> float | None:
        """The caller's own mean excess at a place, unshrunk, once `KNOWN` calls are behind
        it (what their next call there is measured from to learn the within-caller sigma)."""
        w = self.weight[place]
        return self.total[place] / w if w >= KNOWN else None

    def learn(self, place: int, excess: float, alpha: float) -> None:
        """One call's excess over its place's level; old calls fade at `alpha` a call."""
        self.total[place] = (1.0 - alpha) * self.total[place] + excess
        self.weight[place] = (1.0 - alpha) * self.weight[place] + 1.0


def excess(lent: Lent, place: int, y: float) -> float | None:
    """A call's excess over its place's level (None: the place has no level yet)."""
    settled = lent.places[place]
    return None if settled is None else y - settled[0]


def standardised(lent: Lent, offset: Offset, place: int, y: float, clip: float) -> float | None:
    """A call's excess over what the pool and the caller's offset expect at its place, in
    sigmas of the prediction (the within-caller spread and the offset's uncertainty, w^2 over
    the calls behind it), clipped; None where the pool does not judge the place."""
    settled = lent.places[place]
    if settled is None or not settled[1] > 0.0:
        return None
    level, within, shrink = settled
    variance = within * within * (1.0 + 1.0 / (offset.weight[place] + shrink))
    return _clipped((y - level - offset.value(lent, place)) / math.sqrt(variance), clip)


def _clipped(r: float, bound: float) -> float:
    if not bound > 0.0:
        return r
    return max(-bound, min(bound, r))
