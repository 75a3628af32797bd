"""Shared moves: several people of a key doing at once what each of them seldom does.

Why: a team whose default model is switched to a dearer one (Opus: five times the price per
token) spends several times its usual from the first quarter hour, with the usual number of
calls. Its spend alone does not tell it from a busy afternoon of its heavy people, and its cost
per call does not either: one person of the team working alone on Opus moves the team's mean
call as much. What a switch changes is who is on the dear model: people who seldom use it,
several at once. One such person is ordinary (someone tries Opus for a session); several of
the same team in the same quarter hour, each against their own habit, are the team's change.

The statistic: each person of the key has a learnt rate of being "on" (in a stretch of
`windows` windows, at least `min_hits` of their calls and at least `share` of them were hits,
e.g. calls on Opus), their own windows counted with `prior` windows at the key's pooled rate,
so a newcomer is judged by the team. Given the rates of the people active now, the number on
is a sum of independent Bernoulli trials (a Poisson-binomial); the window scores by the
probability of as many or more people on, and scores 0.5 at `p_value`. Fewer than
`min_people` on never scores: a move of one person is that person's choice. A person's rate
includes people who are always on the dear model (their rate near 1 expects them on), so an
Opus team is not news for being on Opus.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.persist import restore_slots
from detectors.window_model import WindowModel

_PEOPLE = 10_000  # people a key keeps rates of (the least recently seen go first)

# A window's point: (each person's calls, each person's hits).
Calls = tuple[Mapping[str, int], Mapping[str, int]]
# A window as judged: (people on, people active, expected on, -log10 of the tail probability).
MoveSeen = tuple[int, int, float, float]


@dataclass(frozen=True)
class SharedMoveParams:
    """windows: consecutive windows a person's calls are counted over (3 of 5 minutes).

    min_hits: hits a person needs in them to be on; share: the least share of their calls.
    prior: windows at the key's pooled rate that a person's own rate is counted with.
    p_value: the probability of as many people on, or more, that scores 0.5.
    min_people: people on below which a window never scores.
    hold: windows after which a window's people count in their rates, so that the first
    quarter hours of a move do not teach the rates it is judged by.
    step: the window's length, set from the detector's interval.
    """

    windows: int = 3
    min_hits: int = 2
    share: float = 0.5
    prior: float = 10.0
    p_value: float = 1e-4
    min_people: int = 2
    hold: int = 6
    step: float = 300.0


def tail_probability(rates: Sequence[float], at_least: int) -> float:
    """P(at least `at_least` of independent trials with these success rates succeed)."""
    dist = [1.0]
    for p in rates:
        nxt = [0.0] * (len(dist) + 1)
        for k, v in enumerate(dist):
            nxt[k] += v * (1.0 - p)
            nxt[k + 1] += v * p
        dist = nxt
    return min(1.0, max(0.0, sum(dist[at_least:])))


class SharedMove(WindowModel[SharedMoveParams, Calls, MoveSeen]):
    """One key's people, their rates of being on, and their recent calls.

    >>> m = SharedMove(SharedMoveParams(prior=2.0))
    >>> for i in range(200):
    ...     m.learn_one(({"a": 4, "b": 4, "c": 4}, {"a": 0, "b": 0, "c": 4}), i * 300.0)
    >>> m.score_one(m.judged(({"a": 4, "c": 4}, {"a": 0, "c": 4}), None, None, 1e6, 0.0), 0.0)
    0.0
    >>> seen = m.judged(({"a": 4, "b": 4}, {"a": 4, "b": 4}), None, None, 1e6, 0.0)
    >>> m.score_one(seen, 0.0) >= 0.5
    True
    """

    __slots__ = ("first", "p", "pending", "people", "pool", "recent")
    Params = SharedMoveParams
    inherits = False

    def __init__(self, params: SharedMoveParams | None = None) -> None:
        self.p = params or SharedMoveParams()
        self.recent: deque[tuple[float, Calls]] = deque()  # (window start, point)
        self.people: dict[str, tuple[float, float]] = {}  # person -> (windows, windows on)
        self.pool = (0.0, 0.0)  # (windows, windows on) of everyone
        self.first = -1.0
        self.pending: deque[tuple[float, tuple[str, ...], frozenset[str]]] = deque()

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
        if list(aggregations) != ["distinct", "distinct"]:
            raise ValueError(
                f"kind {kind!r} counts each person's calls and hits: give `metrics:` the "
                "people's `distinct` (field: user) and the people's `distinct` with the hits' "
                "`condition` (e.g. {model.family: opus}), in that order"
            )

    @classmethod
    def series_problem(cls, params: SharedMoveParams) -> str | None:
        return "a shared move needs each person's calls and hits of each window"

    @classmethod
    def point(
        cls, accs: Sequence[Any], aggregations: Sequence[str], min_count: int
    ) -> Calls | None:
        calls = dict(accs[0].distinct or {})
        if not calls:
            return None
        return calls, dict(accs[1].distinct or {})

    @classmethod
    def empty_point(cls, aggregations: Sequence[str]) -> None:
        return None  # an idle window adds nothing: only active keys are visited

    def _stretch(self, x: Calls, t: float) -> tuple[dict[str, int], set[str]]:
        """Each person's calls over the last `windows` windows, x's included, and who is on."""
        since = t - (self.p.windows - 1) * self.p.step
        calls: dict[str, int] = {}
        hits: dict[str, int] = {}
        for c, h in [*[v for s, v in self.recent if since <= s < t], x]:
            for who, n in c.items():
                calls[who] = calls.get(who, 0) + n
            for who, n in h.items():
                hits[who] = hits.get(who, 0) + n
        on = {
            who
            for who, n in calls.items()
            if hits.get(who, 0) >= self.p.min_hits and hits.get(who, 0) >= self.p.share * n
        }
        return calls, on

    def rate(self, who: str) -> float:
        """A person's rate of being on: their windows with `prior` at the pooled rate."""
        windows, on = self.people.get(who, (0.0, 0.0))
        pooled = (self.pool[1] + 1.0) / (self.pool[0] + 2.0)
        return (on + self.p.prior * pooled) / (windows + self.p.prior)

    def judged(
        self,
        x: Calls,
        parent: SharedMove | None,
        root: SharedMove | None,
        t: float,
        warmup: float,
        key: tuple[str, ...] = (),
    ) -> MoveSeen:
        """(people on, people active, people expected on, -log10 of the chance of as many)."""
        calls, on = self._stretch(x, t)
        rates = [self.rate(who) for who in calls]
        surprise = 0.0
        if len(on) >= self.p.min_people:
            surprise = -math.log10(max(tail_probability(rates, len(on)), 1e-300))
        return len(on), len(calls), sum(rates), surprise

    def score_one(self, x: MoveSeen, t: float, n: int = 0) -> float:
        surprise = x[3]
        return min(1.0, 0.5 * surprise / -math.log10(self.p.p_value))

    def learn_one(self, x: Calls, t: float, n: int = 0) -> None:
        calls, on = self._stretch(x, t)
        if self.first < 0.0:
            self.first = t
        self.pending.append((t, tuple(calls), frozenset(on)))
        while self.pending and self.pending[0][0] <= t - self.p.hold * self.p.step:
            _, active, was = self.pending.popleft()
            self._count(active, was)
        self.recent.append((t, x))
        while self.recent and self.recent[0][0] <= t - self.p.windows * self.p.step:
            self.recent.popleft()

    def _count(self, active: Sequence[str], on: frozenset[str]) -> None:
        """A held window's people into their rates (the least recently seen go first past
        `_PEOPLE`)."""
        for who in active:
            windows, was_on = self.people.pop(who, (0.0, 0.0))
            self.people[who] = (windows + 1.0, was_on + (who in on))
        if len(self.people) > _PEOPLE:
            del self.people[next(iter(self.people))]
        self.pool = (self.pool[0] + len(active), self.pool[1] + len(on))

    def describe(self, x: MoveSeen, t: float, n: int = 0) -> dict[str, Any]:
        on, active, expected, surprise = x
        return {
            "value": on,
            "people": active,
            "expected": round(expected, 3),
            "tail_log10": round(-surprise, 2),
            "span_minutes": round(self.p.windows * self.p.step / 60.0),
        }

    def is_warm(self, t: float, warmup: float) -> bool:
        return self.first >= 0.0 and t - self.first >= warmup

    def spawn(self) -> SharedMove:
        return SharedMove(self.p)
