"""Joint surges: a key's recent total and what its calls carry departing together from the
largest the key ordinarily reaches.

Why not the total alone (`sustained`, `steady_surge`): a person's spend over a quarter of an
hour is heavy tailed, and an ordinary long-context session costs as much as the first quarter
hour of a surge. Such a session is dear for its context, its answers stay ordinary; a surge of
long answers on a dear model (an agent left writing on the largest model) is dear for what it
writes. So the kind judges two departures of the same windows at once, each against the key's
own largest ordinary value: the total of the first metric (spend) and the second metric per
call (output tokens per call). Ordinary windows reach their largest on one of the two, seldom on
both, so the smaller of the two multiples stays near one in ordinary work while a surge of
long, dear answers moves both within minutes.

The multiples are over the key's own largest values, learned `hold` windows late and never
above the alert bar, so a surge does not teach the bar it is judged by while it goes on. A key
is judged once `settle` of its windows were active: a newcomer's largest values are not yet
their ordinary ones. Nor is a key's largest taken below the median largest of the settled keys
(`floor`): a light person's first heavy session is ordinary work for the organisation, and a
surge worth paging is one for the organisation too.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.persist import restore_slots
from detectors.window_model import WindowModel

_MEMBERS = 200_000  # keys whose largest values the detector keeps for the peers' floor

# A window's point: (first metric's sum, second metric's sum, calls).
Sums = tuple[float, float, float]
# What the detector learns of a key (`taught`): (key, largest total, largest per call, active
# windows).
MemberPeaks = tuple[tuple[str, ...], float, float, int]
# A window as judged: (total, per call, largest total, largest per call), the largest being the
# key's own or the peers' floor, whichever is larger.
JointSeen = tuple[float, float, float, float]


@dataclass(frozen=True)
class JointSurgeParams:
    """windows: consecutive windows summed (3 windows of 5 minutes: a quarter of an hour).

    ratio: the smaller of the two multiples (total, per call) at which the score reaches 0.5.
    min_calls: calls the summed windows need for a per-call value (fewer: no departure).
    settle: active windows a key needs before it is judged.
    hold: windows after which a judged value becomes part of the key's largest (at most the
    bar), so a surge's first windows do not raise the bar while it goes on.
    floor: the share of everyone's median largest values (of keys with `settle` active
    windows) below which a key's own largest is not taken: a light person's first heavy
    session is ordinary work for the organisation, not a surge (0: off).
    min_peers: settled keys the floor needs (fewer: no floor).
    step: the window's length, set from the detector's interval.
    """

    windows: int = 3
    ratio: float = 2.0
    min_calls: int = 3
    settle: int = 20
    hold: int = 6
    floor: float = 1.0
    min_peers: int = 10
    step: float = 300.0


class JointSurge(WindowModel[JointSurgeParams, Sums | MemberPeaks, JointSeen]):
    """One key's recent windows and its largest ordinary total and per-call value.

    >>> m = JointSurge(JointSurgeParams(settle=3, hold=1))
    >>> for i in range(10):
    ...     m.learn_one((1.0, 300.0 * (1 + i % 2), 3.0), i * 300.0)
    >>> m.score_one(m.judged((9.0, 300.0, 3.0), None, None, 10 * 300.0, 0.0), 0.0) < 0.5
    True
    >>> m.score_one(m.judged((9.0, 9000.0, 3.0), None, None, 10 * 300.0, 0.0), 0.0) >= 0.5
    True
    """

    __slots__ = (
        "busy",
        "medians",
        "members",
        "p",
        "peak_per_call",
        "peak_total",
        "pending",
        "recent",
    )
    Params = JointSurgeParams

    def __init__(self, params: JointSurgeParams | None = None) -> None:
        self.p = params or JointSurgeParams()
        self.recent: deque[tuple[float, Sums]] = deque()  # (window start, point)
        self.pending: deque[tuple[float, float, float]] = deque()  # (start, total, per call)
        self.peak_total = 0.0
        self.peak_per_call = 0.0
        self.busy = 0
        self.members: dict[tuple[str, ...], tuple[float, float, int]] = {}  # as the detector
        self.medians: tuple[float, float, float] = (-1.0, 0.0, 0.0)  # (at, total, per call)

    def __setstate__(self, state: tuple[Any, dict[str, Any]]) -> None:
        restore_slots(self, state)

    @classmethod
    def check_spec(
        cls,
        kind: str,
        aggregations: Sequence[str],
        group_by: Sequence[str],
        params: Mapping[str, Any],
        budgets: Mapping[str, float],
    ) -> None:
        if list(aggregations) != ["sum", "sum", "count"]:
            raise ValueError(
                f"kind {kind!r} judges a total and a value per call together: give `metrics:` "
                "the total's sum (e.g. cost), the per-call value's sum (e.g. tokens_out) and "
                "the calls' count, in that order"
            )

    @classmethod
    def series_problem(cls, params: JointSurgeParams) -> str | None:
        return "a joint surge needs a total, a per-call value and the calls of each window"

    @classmethod
    def point(cls, accs: Sequence[Any], aggregations: Sequence[str], min_count: int) -> Sums | None:
        values = [a.value(g, 0) for a, g in zip(accs, aggregations, strict=True)]
        if len(values) != 3 or not values[2]:
            return None
        return float(values[0] or 0.0), float(values[1] or 0.0), float(values[2])

    @classmethod
    def empty_point(cls, aggregations: Sequence[str]) -> None:
        return None  # an idle window adds nothing: only active keys are visited

    @classmethod
    def series_point(cls, value: float, raw: str) -> Sums:
        return value, 0.0, 1.0

    def _sums(self, x: Sums, t: float) -> tuple[float, float]:
        """(total, per-call value) over the windows within `windows` of t, x's included
        (per call 0 with fewer than `min_calls` calls)."""
        since = t - (self.p.windows - 1) * self.p.step
        window = [v for s, v in self.recent if since <= s < t] + [x]
        calls = sum(v[2] for v in window)
        per_call = sum(v[1] for v in window) / calls if calls >= self.p.min_calls else 0.0
        return sum(v[0] for v in window), per_call

    def judged(
        self,
        x: Sums | MemberPeaks,
        parent: JointSurge | None,
        root: JointSurge | None,
        t: float,
        warmup: float,
        key: tuple[str, ...] = (),
    ) -> JointSeen:
        """(total, per call, and the largest each is judged against: the key's own or the
        peers' floor, whichever is larger)."""
        if len(x) == 4:
            raise TypeError("a key's own window is sums; only the root learns a key's largest")
        total, per_call = self._sums((float(x[0]), float(x[1]), float(x[2])), t)
        floor_total, floor_per_call = root.floors(t) if root is not None else (0.0, 0.0)
        return (
            total,
            per_call,
            max(self.peak_total, floor_total),
            max(self.peak_per_call, floor_per_call),
        )

    def multiple(self, seen: JointSeen) -> float:
        """The smaller of the total's and the per-call value's multiples of their largest."""
        total, per_call, top_total, top_per_call = seen
        if top_total <= 0.0 or top_per_call <= 0.0:
            return 0.0
        return min(total / top_total, per_call / top_per_call)

    def score_one(self, x: JointSeen | Sums, t: float, n: int = 0) -> float:
        if len(x) == 3:  # a bare point: judge it as the key would now
            x = self.judged((x[0], x[1], x[2]), None, None, t, 0.0)
        if self.busy < self.p.settle:
            return 0.0
        return min(1.0, 0.5 * self.multiple(x) / self.p.ratio)

    def learn_one(self, x: Sums | MemberPeaks, t: float, n: int = 0) -> None:
        if len(x) == 4:  # the detector learning one of its keys' largest values (`taught`)
            key, peak_total, peak_per_call, busy = x
            self.teach_member(key, peak_total, peak_per_call, busy)
            return
        point = (float(x[0]), float(x[1]), float(x[2]))
        total, per_call = self._sums(point, t)
        self.busy += 1
        self.recent.append((t, point))
        while self.recent and self.recent[0][0] <= t - self.p.windows * self.p.step:
            self.recent.popleft()
        while self.pending and self.pending[0][0] <= t - self.p.hold * self.p.step:
            _, old_total, old_per_call = self.pending.popleft()
            self.peak_total = max(self.peak_total, old_total)
            self.peak_per_call = max(self.peak_per_call, old_per_call)
        self.pending.append(
            (t, self._capped(total, self.peak_total), self._capped(per_call, self.peak_per_call))
        )

    def _capped(self, value: float, peak: float) -> float:
        """A value as the key may learn it: at most the bar (`ratio` times its largest) once
        the key is judged, so a surge raises its own bar by at most that."""
        if self.busy <= self.p.settle or peak <= 0.0:
            return value
        return min(value, self.p.ratio * peak)

    def describe(self, x: JointSeen | Sums, t: float, n: int = 0) -> dict[str, Any]:
        seen = self.judged((x[0], x[1], x[2]), None, None, t, 0.0) if len(x) == 3 else x
        total, per_call, top_total, top_per_call = seen
        return {
            "value": round(total, 6),
            "per_call": round(per_call, 3),
            "baseline": round(top_total, 6),
            "own_max_per_call": round(top_per_call, 3),
            "multiple": round(self.multiple(seen), 2),
            "bar_multiple": self.p.ratio,
            "span_minutes": round(self.p.windows * self.p.step / 60.0),
        }

    def is_warm(self, t: float, warmup: float) -> bool:
        return self.busy >= self.p.settle

    def spawn(self) -> JointSurge:
        return JointSurge(self.p)  # a key starts from nothing; the peers' floor is the root's

    def taught(
        self,
        key: tuple[str, ...],
        x: Sums | MemberPeaks,
        root: JointSurge | None,
        pending: Any,
        max_keys: int,
    ) -> MemberPeaks:
        """The detector learns the key's largest values, not its window."""
        return key, self.peak_total, self.peak_per_call, self.busy

    # -- as the detector's root ---------------------------------------------------------------

    def teach_member(self, key: tuple[str, ...], total: float, per_call: float, busy: int) -> None:
        """Keep a key's largest values (the least recently taught go first past `_MEMBERS`)."""
        self.members.pop(key, None)
        self.members[key] = (total, per_call, busy)
        if len(self.members) > _MEMBERS:
            del self.members[next(iter(self.members))]

    def floors(self, t: float) -> tuple[float, float]:
        """`floor` times the median largest total and per-call value of the settled keys
        ((0, 0) with fewer than `min_peers` of them), once per window."""
        at, total, per_call = self.medians
        if at != t:
            settled = [(a, b) for a, b, busy in self.members.values() if busy >= self.p.settle]
            total = per_call = 0.0
            if self.p.floor > 0.0 and len(settled) >= self.p.min_peers:
                total = self.p.floor * statistics.median(a for a, _ in settled)
                per_call = self.p.floor * statistics.median(b for _, b in settled)
            self.medians = (t, total, per_call)
        return total, per_call
