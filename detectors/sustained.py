"""Sustained surges: a key's total over the last few windows against the largest such total
that key, the other keys of its parent and the whole detector have ordinarily reached.

Why not one window against its baseline: a person's spend comes in sessions, and an ordinary
long-context session costs as much in a quarter of an hour as the first quarter of a surge of
hours (a person left an expensive model running on huge contexts). What tells them apart is
how long the spend goes on: an ordinary heavy session ends within the hour, so a person's
spend over the last 90 minutes levels off at what a long session costs, while a surge's keeps
climbing. The total over `windows` consecutive windows is therefore judged against the
ordinary maximum of that total: the key's own (its heaviest stretch so far), and the median
of the maxima of its parent's keys and of all keys (what a heavy stretch costs for people
like it), whichever is largest. The key's own maximum may take a smaller multiple
(`own_ratio`): it already holds the key's heavy sessions, and a person whose sessions cost
ten times their peers' would otherwise wait for a surge of eight times their heaviest. The peers' medians also judge a newcomer, who has no maximum
of their own, and keep a person whose spend is tiny from alarming on their first real session.

A total is learned only hours later and never above the alert bar, so a surge stays one
incident while it lasts instead of teaching its own level and resolving half-way.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

from detectors.persist import restore_slots
from detectors.window_model import PendingKeys, WindowModel

_MEMBERS = 200_000  # keys whose maxima a parent keeps

# What a parent learns of one of its keys (`taught`): (key, largest ordinary total, windows
# with activity). A key learns its own windows' totals (floats).
MemberPeak = tuple[tuple[str, ...], float, int]
# A window as judged (`judged`): (total, own maximum, parent's median maximum, everyone's median
# maximum, everyone's `high` quantile of maxima). A bare total is judged by the key alone.
SurgeSeen = tuple[float, float, float, float, float]


@dataclass(frozen=True)
class SustainedParams:
    """windows: how many consecutive windows are summed (6 windows of 15 minutes: 90 minutes).

    ratio: the multiple of the ordinary maximum at which the score reaches 0.5.
    own_ratio: the multiple of the key's own maximum alone (0: `ratio`). A person's own
    heaviest stretch already holds their heavy sessions, so a smaller multiple of it is as
    safe as `ratio` times what peers reach, and a heavy person's surge alerts as soon as a
    light person's does instead of hours later.
    heavy, high: when `heavy` > 0, the total must also reach `heavy` times the `high`
    quantile of everyone's maxima (what the heavy people of the organisation ordinarily
    reach), so that a light user's first long-context session, which costs what a heavy
    user's every session does, is no surge; off by default (it delays or hides a surge in an
    organisation where long-context work is common).
    settle: the windows with activity a key needs before its maximum counts for its peers'
    medians (a newcomer's first minutes are not yet their ordinary heaviest).
    min_peers: settled keys the detector needs before the peers' median is trusted; until
    then nothing is scored. step: the window's length, set from the detector's interval.
    """

    windows: int = 6
    ratio: float = 6.0
    own_ratio: float = 0.0
    heavy: float = 0.0
    high: float = 0.9
    settle: int = 8
    min_peers: int = 10
    step: float = 900.0


class SustainedSurge(WindowModel[SustainedParams, float | MemberPeak, float | SurgeSeen]):
    """One key's recent window totals and its ordinary maximum of their sum; as a parent (a
    team, or the whole detector), its keys' maxima.

    >>> m = SustainedSurge(SustainedParams(windows=2, ratio=3.0, min_peers=1))
    >>> for i in range(20):
    ...     m.learn_one(1.0, i * 900.0)
    >>> m.teach_member(("a",), 2.0, 8)
    >>> m.score_one(m.judged(1.0, None, m, 20 * 900.0), 20 * 900.0) < 0.5
    True
    >>> m.score_one(m.judged(7.0, None, m, 21 * 900.0), 21 * 900.0) >= 0.5
    True
    """

    __slots__ = ("bar", "busy", "medians", "members", "p", "peak", "pending", "recent")
    Params = SustainedParams

    def __init__(self, params: SustainedParams | None = None) -> None:
        self.p = params or SustainedParams()
        self.recent: deque[tuple[float, float]] = deque()  # (window start, value)
        self.peak = 0.0  # the largest ordinary total of `windows` windows
        self.busy = 0  # windows with activity
        self.bar = float("inf")  # a total at or above it is a surge (set when judged)
        self.pending: deque[tuple[float, float]] = deque()  # (window start, total) to learn
        self.members: dict[tuple[str, ...], tuple[float, int]] = {}  # key -> (peak, active)
        self.medians: tuple[float, float, float] = (-1.0, 0.0, 0.0)  # (at, median, high)

    def __setstate__(self, state: tuple[Any, dict[str, Any]]) -> None:
        restore_slots(self, state)

    # -- as a key ------------------------------------------------------------------------------

    def _total(self, x: float, t: float) -> float:
        """The sum of the windows within `windows` of t, x for the window at t included."""
        since = t - (self.p.windows - 1) * self.p.step
        return x + sum(v for s, v in self.recent if since <= s < t)

    def judged(
        self,
        x: float | MemberPeak,
        parent: Self | None,
        root: Self | None,
        t: float,
        warmup: float,
        key: tuple[str, ...] = (),
    ) -> SurgeSeen:
        """(total, own maximum, parent's median maximum, everyone's median maximum, everyone's
        `high` quantile of maxima)."""
        if isinstance(x, tuple):
            raise TypeError("a key's own window is a total; only a parent learns a member's peak")
        total = self._total(float(x), t)
        team = parent.peaks(t)[0] if parent is not None else 0.0
        everyone, heavy = root.peaks(t) if root is not None else (0.0, 0.0)
        seen = (total, self.peak, team, everyone, heavy)
        self.bar = self._bar(seen)
        return seen

    def _bar(self, seen: tuple[float, ...]) -> float:
        """The total that scores 0.5: `ratio` times the peers' median maxima (twice that for a
        newcomer), or `own_ratio` times the key's own maximum, whichever is larger."""
        _, own, team, everyone, _heavy = seen
        if everyone <= 0.0:
            return float("inf")
        own_ratio = self.p.own_ratio or self.p.ratio
        return max(own_ratio * own, self._multiple(own) * max(team, everyone))

    def _multiple(self, own: float) -> float:
        """The multiple that alerts: twice `ratio` for a key without a maximum of its own yet
        (a newcomer's first heavy afternoon is judged by its peers alone, with less evidence
        of what it ordinarily does)."""
        return self.p.ratio if own > 0.0 else 2.0 * self.p.ratio

    def _ordinary(self, seen: tuple[float, ...]) -> float:
        _, own, team, everyone, _heavy = seen
        return max(own, team, everyone) if everyone > 0.0 else 0.0

    def score_one(self, x: float | SurgeSeen, t: float, n: int = 0) -> float:
        seen = x if isinstance(x, tuple) else (float(x), self.peak, 0.0, 0.0, 0.0)
        bar = self._bar(seen)
        if bar == float("inf"):
            return 0.0
        total, heavy = float(seen[0]), float(seen[4])
        own = total / bar
        above_heavy = total / (self.p.heavy * heavy) if heavy > 0.0 < self.p.heavy else own
        return min(1.0, 0.5 * min(own, above_heavy))

    def learn_one(self, x: float | MemberPeak, t: float, n: int = 0) -> None:
        if isinstance(x, tuple):  # a parent learning one of its keys' maxima (`taught`)
            key, peak, active = x
            self.teach_member(key, peak, active)
            return
        value = float(x)
        self.busy += 1
        total = self._total(value, t)
        self.recent.append((t, value))
        while self.recent and self.recent[0][0] <= t - self.p.windows * self.p.step:
            self.recent.popleft()
        self._learn_total(t, total)

    def _learn_total(self, t: float, total: float) -> None:
        """A total becomes part of the key's maximum only `hold` (twice the span) later, and
        no larger than the bar: the first totals of a surge must not raise the bar it is
        judged by while it goes on, yet a person whose heavy sessions alerted once (before
        their own maximum knew them) learns them as ordinary, a bar at a time."""
        hold = 2 * self.p.windows * self.p.step
        while self.pending and self.pending[0][0] <= t - hold:
            self.peak = max(self.peak, self.pending.popleft()[1])
        self.pending.append((t, min(total, self.bar)))

    def describe(self, x: float | SurgeSeen, t: float, n: int = 0) -> dict[str, Any]:
        seen = x if isinstance(x, tuple) else (float(x), self.peak, 0.0, 0.0, 0.0)
        total, own, team, everyone, heavy = seen
        ordinary = self._ordinary(seen)
        return {
            "value": round(total, 6),
            "span_minutes": round(self.p.windows * self.p.step / 60.0),
            "own_max": round(own, 6),
            "peers_median_max": round(team, 6),
            "all_median_max": round(everyone, 6),
            "all_high_max": round(heavy, 6),
            "baseline": round(ordinary, 6),
            "bar": round(self._bar(seen), 6),
            "multiple": round(total / ordinary, 2) if ordinary > 0.0 else None,
        }

    def is_warm(self, t: float, warmup: float) -> bool:
        return True  # judged by its peers until it has a maximum of its own

    def spawn(self) -> SustainedSurge:
        return SustainedSurge(self.p)

    @classmethod
    def empty_point(cls, aggregations: Sequence[str]) -> None:
        return None  # an idle window adds nothing to a total: only active keys are visited

    def taught(
        self,
        key: tuple[str, ...],
        x: float | MemberPeak,
        root: Self | None,
        pending: PendingKeys,
        max_keys: int,
    ) -> MemberPeak:
        """Parents learn the key's largest total that was not a surge (held ones included: a
        newcomer's first heavy session is what its peers ordinarily do), not its window."""
        held = max((total for _, total in self.pending), default=0.0)
        return key, max(self.peak, held), self.busy

    # -- as a parent ---------------------------------------------------------------------------

    def teach_member(self, key: tuple[str, ...], peak: float, active: int) -> None:
        """Keep a key's maximum (the least recently taught go first past `_MEMBERS`)."""
        self.members.pop(key, None)
        self.members[key] = (peak, active)
        if len(self.members) > _MEMBERS:
            del self.members[next(iter(self.members))]

    def peaks(self, t: float) -> tuple[float, float]:
        """The median and the `high` quantile of the maxima of the keys with `settle` windows
        of activity ((0, 0) with fewer than `min_peers` such keys), once per window."""
        at, median, high = self.medians
        if at == t:
            return median, high
        settled = sorted(p for p, active in self.members.values() if active >= self.p.settle)
        if len(settled) >= self.p.min_peers:
            median = statistics.median(settled)
            high = settled[min(len(settled) - 1, int(self.p.high * len(settled)))]
        else:
            median = high = 0.0
        self.medians = (t, median, high)
        return median, high
