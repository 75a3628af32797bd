"""A creep of one caller's size per call: a one-sided CUSUM of each call against the caller's
own baseline.

Why per call, and why per caller: tokens per call differ tenfold from one person (and model)
to the next, so a team's window median moves with who is at work, and a slow rise of one
person's prompts (a context that bloats over hours) hides in it for most of a day. Judged
against the caller's own running level, every call is one small piece of evidence, and a
creep of two to four times adds up within an hour or two of its start while ordinary calls,
however large the caller's usual ones, add nothing.

A session's context grows from call to call (its tenth call carries several times its
first's tokens), so a long session looks like a creep of its own. Each call is therefore
compared with the caller's earlier calls at the same place in their sessions (the first, the
second, ... calls, then calls 4-7, 8-15, ...): the window keeps every call's value in order and
how many calls each session made, in order (`metrics`: p50 of the size, distinct sessions).

Most people have too few sessions behind them when their prompts start to creep for their own
calls to be a baseline. So the detector's root model keeps a pooled baseline, everyone's calls
at each place in a session (`baseline: pooled`), and lends it to every key: each person's
calls are judged against the organisation's ordinary calls at the same place, from their first
call on. the pool is moved by the person's own level as soon as a few of their calls show it
(`detectors.creep_pool`). `baseline: own` (the default of the kind) judges each person by their
own calls alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.creep_pool import Lent, Offset, PlacePool, excess, standardised
from detectors.persist import restore_slots
from detectors.rollup import Accumulator
from detectors.scoring import MAD_TO_SIGMA, deviation_score
from detectors.window_model import PendingKeys, WindowModel

_SETTLED = 0.25  # share of `h` below which no creep is under way: the baseline learns
_PLACES = 10  # places in a session: calls 1, 2, 3, 4, then 5-8, 9-16, ..., 129 and on
_SESSIONS = 8  # sessions of a caller whose length so far is kept (one or two are open)
_BURST = 3.0  # a window of more than this many times a caller's usual calls is a burst
_PACE_ALPHA = 0.05  # how fast a caller's usual calls per window follow their pace

Call = tuple[str | None, float]  # a call's session (None: unknown) and size


@dataclass(frozen=True)
class CallCreepParams:
    """k: the allowance per call, in sigmas of the caller's log size (a change smaller than
    `k` sigmas adds nothing). h: the cumulative excess, in sigmas, that scores 0.5.

    On independent calls k 0.25 and h 25 give (Siegmund) about four million calls between
    false alarms per caller, while a lasting rise of one sigma (about 2.2 times at the usual
    spread of a person's calls, 0.8 log units) alarms after about 35 calls. Calls are not
    independent (a session's context grows from one call to the next): the residuals are
    divided by the inflation of a sum of autocorrelated terms, learnt from ordinary calls.
    alpha: the baseline's slowest learning rate per call (a half-life of about 140 calls);
    min_calls: calls before the caller is judged, min_sessions: sessions the caller must have
    begun before being judged (a session's calls are alike, so fifty calls of one or two
    sessions say little of the caller's usual size: on generated organisations a caller
    judged after two sessions opened twice the false alarms of one judged after ten);
    min_place: calls at a place in the session before calls there are judged (and before the
    place's own spread is); places: how many places a session has (1: none, every call against
    the caller's one level); clip: a residual's bound, in sigmas (one huge call is one vote, not
    a creep).

    baseline: what a caller's calls are judged against: `own` (their own earlier calls, judged
    once min_calls and min_sessions are met), `pooled` (everyone's calls at the same place in a
    session, learnt by the detector's root model, moved by the caller's own level: see
    `detectors.creep_pool`; k, min_calls, min_sessions, min_place are then unused). pool_k: the
    allowance per call, in sigmas of the pool's prediction; pool_min_place: everyone's calls at
    a place before the pool lends its level there (and as many again before it judges).

    session_gap: how long a caller makes no call before the sessions they had open, and those
    first seen in the window after, are of unknown place and judged no more (`_resume`): a
    pause hides what the session did meanwhile (telemetry that stopped while people worked on
    hid the calls that grew their context, a session begun meanwhile is first seen well past
    its first call, a session resumed after lunch may have been compacted or not).
    """

    k: float = 0.25
    h: float = 25.0
    alpha: float = 0.005
    min_calls: int = 50
    min_sessions: int = 10
    min_place: int = 10
    places: int = _PLACES
    clip: float = 4.0
    baseline: str = "own"
    pool_k: float = 1.0
    pool_min_place: int = 300
    session_gap: float = 1800.0


class CallCreep(WindowModel[CallCreepParams, list[Call], list[Call]]):
    """One caller's running level and spread of log size per call at each place in a session,
    and a one-sided CUSUM of their calls' standardised excess over those levels.

    A window's point is its calls, each with its session, in the order they came (`point`);
    each call's residual r = (log(x) - level[place]) / (spread[place] * inflation),
    clipped, moves the sum S = max(0, S + r - k). S reaching h scores 0.5 (the alert point);
    the sum then starts again and the levels restart from the new calls, so a creep that goes
    on alarms again only after as much evidence again. While S is above a quarter of h the
    levels do not learn: a creep under way must not become the caller's normal.

    >>> import random
    >>> rng = random.Random(1)
    >>> def window(w, factor=1.0):  # 20 calls of two sessions whose context doubles
    ...     return [(f"s{w}-{i // 10}", factor * 2 ** (i % 10 / 10) * rng.lognormvariate(8, 0.5))
    ...             for i in range(20)]
    >>> m, scores = CallCreep(), []
    >>> for w in range(40):
    ...     calls = window(w)
    ...     scores.append(m.score_one(calls, w * 900.0))
    ...     m.learn_one(calls, w * 900.0)
    >>> max(scores) < 0.5
    True
    >>> for w in range(40, 46):  # the caller's calls three times larger
    ...     calls = window(w, factor=3.0)
    ...     scores.append(m.score_one(calls, w * 900.0))
    ...     m.learn_one(calls, w * 900.0)
    >>> max(scores[40:]) >= 0.5
    True
    """

    __slots__ = (
        "alarms",
        "c0",
        "c1",
        "fresh",
        "last",
        "lent",
        "level",
        "n",
        "offset",
        "p",
        "pace",
        "placed",
        "pool",
        "prev",
        "scatter",
        "scattered",
        "sessions",
        "spread",
        "spreads",
        "started",
        "sum",
    )
    Params = CallCreepParams
    # a new caller starts afresh (`spawn`); the root only keeps the pooled baseline (`taught`)
    inherits = True

    def __init__(self, params: CallCreepParams | None = None) -> None:
        self.p = params or CallCreepParams()
        self.level = [0.0] * _PLACES  # running level of log(size), per place in a session
        self.spread = 0.0  # the running sigma about those levels (robust), of all places
        self.placed = [0] * _PLACES  # calls learnt per place since the levels (re)started
        self.spreads = 0  # calls that taught the spread
        self.scatter = [0.0] * _PLACES  # the running sigma about each place's own level
        self.scattered = [0] * _PLACES  # calls that taught each place's sigma
        self.n = 0  # calls learnt since the levels (re)started
        self.sum = 0.0  # the CUSUM, in sigmas
        self.c0 = self.c1 = self.prev = 0.0  # lag-one autocorrelation of in-control residuals
        self.sessions: dict[str, int] = {}  # recent sessions' calls so far, oldest first
        self.started = 0  # sessions the caller has begun (counted up to min_sessions)
        self.alarms = 0
        # baseline pooled: the pool as lent for the window (`judged`), the caller's offset from
        # it, the calls learnt for the pool (`taught`); the root model alone keeps the pool
        self.lent: Lent | None = None
        self.offset = Offset(_PLACES)
        self.fresh: list[tuple[int, float, float | None]] = []
        self.pool: PlacePool | None = None
        self.pace = 0.0  # the caller's usual calls per window (baseline pooled; `_weight`)
        self.last: float | None = None  # the start of the caller's last window with calls

    def __setstate__(self, state: tuple[Any, dict[str, Any]]) -> None:
        restore_slots(self, state)
        if "started" not in state[1] and self.n:  # saved before sessions were counted
            self.started = self.p.min_sessions

    # -- the kind's window rules ---------------------------------------------------------------

    @classmethod
    def check_spec(
        cls,
        kind: str,
        aggregations: Sequence[str],
        group_by: Sequence[str],
        params: Mapping[str, Any],
        budgets: Mapping[str, float],
    ) -> None:
        if list(aggregations) not in (["p50"], ["p50", "distinct"]):
            raise ValueError(
                f"kind {kind!r} judges every call: give the size as `aggregation: p50` (its "
                "window keeps each call's value), or `metrics:` the size's p50 and the "
                "session's distinct, so that calls compare with calls at the same place in "
                "their sessions"
            )

    @classmethod
    def point(
        cls, accs: Sequence[Accumulator], aggregations: Sequence[str], min_count: int
    ) -> list[Call] | None:
        """The window's calls in arrival order, each with its session (None: no call).

        The window knows each session's count of calls in the order sessions first came; a
        person's sessions on one model mostly follow one another, so the calls are given to
        them in that order. When the counts do not add up (a call without a session, more
        calls than the window keeps), the calls' sessions are unknown."""
        samples = accs[0].samples
        if not samples:
            return None
        counts = accs[1].distinct if len(accs) > 1 else None
        if not counts or sum(counts.values()) != len(samples):
            return [(None, x) for x in samples]
        sessions = [s for s, c in counts.items() for _ in range(c)]
        return list(zip(sessions, samples, strict=True))

    @classmethod
    def empty_point(cls, aggregations: Sequence[str]) -> None:
        return None

    @classmethod
    def series_point(cls, value: float, raw: str) -> list[Call]:
        return [(None, value)]

    # -- the verbs -----------------------------------------------------------------------------

    def judged(
        self,
        x: list[Call],
        parent: CallCreep | None,
        root: CallCreep | None,
        t: float,
        warmup: float,
        key: tuple[str, ...] = (),
    ) -> list[Call]:
        """The window's calls as they are; a key judged by the pool first takes the pool's
        baseline as it is at the window's start (`lent`), for its score and learning."""
        if self.p.baseline == "pooled" and root is not None and root.pool is not None:
            self.lent = root.pool.lend_at(t)
        return x

    def taught(
        self,
        key: tuple[str, ...],
        x: list[Call],
        root: CallCreep | None,
        pending: PendingKeys,
        max_keys: int,
    ) -> list[Call]:
        """The root learns no window itself: the calls this key has just learnt (none of a
        creep under way) teach the pool their place's level and spread."""
        if root is not None and self.fresh:
            if root.pool is None:
                root.pool = PlacePool(_PLACES, self.p.pool_min_place)
            for place, y, residual in self.fresh:
                root.pool.learn(place, y, residual, self.p.clip)
            self.fresh = []
        return []

    def score_one(self, x: list[Call], t: float, n: int = 0) -> float:
        return deviation_score(self._peak(x, t), self.p.h)

    def learn_one(self, x: list[Call], t: float, n: int = 0) -> None:
        weight = self._weight(len(x))
        resumed = self._resume(self.sessions, t)
        for place, value in self._placed(x, self.sessions, resumed, count=True):
            if value > 0.0:  # a call of no size has no log: its place in the session counts
                self._learn_call(place, math.log(value), weight)
        if x:
            self.last = t
        if x and self.p.baseline == "pooled":
            self.pace += _PACE_ALPHA * (len(x) - self.pace) if self.pace else len(x)

    def describe(self, x: list[Call], t: float, n: int = 0) -> dict[str, Any]:
        first = self._level_of(0)
        if first is None:
            first = self.level[0] if self.placed[0] else 0.0
        pooled = self.lent.places[0] if self.p.baseline == "pooled" and self.lent else None
        return {
            "value": round(_median([v for _s, v in x]), 3),
            "calls": len(x),
            "baseline": round(math.expm1(first), 3),
            "log_sigma": round(pooled[1] if pooled else self.spread, 4),
            "creep_sigmas": round(self._peak(x, t), 3),
        }

    def is_warm(self, t: float, warmup: float) -> bool:
        return self._judging()

    def spawn(self) -> CallCreep:
        return CallCreep(self.p)

    # -- the test ------------------------------------------------------------------------------

    def _judged(self) -> bool:
        """Whether the caller has made enough calls, in enough sessions, to be judged."""
        return self.n >= self.p.min_calls and self.started >= self.p.min_sessions

    def _own(self) -> bool:
        """Whether the caller's own calls judge them (by `baseline` and their history)."""
        return self.p.baseline == "own" and self._judged()

    def _judging(self) -> bool:
        """Whether any baseline judges the caller's calls: their own, or the pool's."""
        return self._own() or (self.p.baseline == "pooled" and self.lent is not None)

    def _level_of(self, place: int) -> float | None:
        """The level a call at `place` is compared with (None: the place is not judged)."""
        if self.p.baseline == "pooled":
            settled = self.lent.places[place] if self.lent is not None else None
            if settled is None or not settled[1] > 0.0:
                return None
            return settled[0] + self.offset.value(self.lent, place)  # type: ignore[arg-type]
        return self.level[place] if self.placed[place] >= self.p.min_place else None

    def _weight(self, calls: int) -> float:
        """How much each of a window's calls counts (baseline pooled): all of them up to
        `_BURST` times the caller's usual calls per window, then together as that many. A
        creep is slow and keeps the caller's pace; a burst of like calls (a runaway loop of
        fresh sessions) is not independent evidence of one, however many calls it makes."""
        if self.p.baseline != "pooled" or not self.pace or not calls:
            return 1.0
        return min(1.0, _BURST * self.pace / calls)

    def _excess(self, place: int, y: float) -> float:
        """A call's step of the CUSUM: its standardised, clipped excess less the allowance
        (against the pool, or the caller's own level; 0: no baseline judges the call)."""
        if self.p.baseline == "pooled":
            z = None if self.lent is None else standardised(self.lent, self.offset, place, y,
                                                            self.p.clip)  # fmt: skip
            return 0.0 if z is None else z - self.p.pool_k
        if not self._own():
            return 0.0
        return self._residual(place, y) / self._inflation() - self.p.k

    def _placed(
        self,
        calls: Sequence[Call],
        sessions: dict[str, int],
        resumed: bool = False,
        count: bool = False,
    ) -> list[tuple[int, float]]:
        """The window's calls, each with its place in its session (counted in `sessions`; with
        `count`, a session's first call counts towards `started`; `resumed`: the window
        follows a gap, and sessions first seen in it are stale).

        A window knows how many calls each session made, not which call was whose: when a
        person works in two sessions at once their calls interleave, and giving a window's
        first calls to its first session would set a long session's largest calls at another
        session's first places (on generated organisations, the false creeps of people who
        work in parallel sessions). The places are then matched to the sizes in order, the
        lowest level with the smallest size: a window's sum of residuals is the same for any
        pairing, and this one sets no ordinary call far from its place's level (calls at places
        not yet judged keep the counted pairing). A call of a stale session (`_resume`) keeps
        its count but is neither judged nor learnt (its value is given as 0, a call of no
        size)."""
        places, placed = [], []
        for session, value in calls:
            position, stale = self._position(sessions, session, resumed)
            if count and position == 0 and self.started < self.p.min_sessions:
                self.started += 1
            if stale:
                value = 0.0
            places.append(_place(position, self.p.places))
            placed.append((places[-1], value))
        if len({session for session, _value in calls}) < 2:
            return placed
        levels = [self._level_of(place) for place in range(_PLACES)]
        judged = [i for i, (p, v) in enumerate(placed) if levels[p] is not None and v > 0.0]
        # places not yet judged have no level to match by: their calls stay as counted
        ordered = sorted((places[i] for i in judged), key=lambda place: (levels[place], place))
        sizes = sorted(placed[i][1] for i in judged)
        for i, place, size in zip(judged, ordered, sizes, strict=True):
            placed[i] = (place, size)
        return placed

    def _resume(self, sessions: dict[str, int], t: float) -> bool:
        """Whether the window at t follows `session_gap` without a call of the caller's; then
        every session's place is unknown: its count is kept negative (stale) for as long as
        the session is remembered."""
        if self.last is None or t - self.last < self.p.session_gap:
            return False
        for session, at in sessions.items():
            sessions[session] = -abs(at)
        return True

    @staticmethod
    def _position(
        sessions: dict[str, int], session: str | None, resumed: bool = False
    ) -> tuple[int, bool]:
        """The call's place in its session (0: the first), counted in `sessions`, and whether
        the session is stale (its place unknown after a gap: a session counted before it, or
        first seen in the window after it, `resumed`); a call of an unknown session follows
        the last call seen."""
        if session is None:
            session = next(reversed(sessions), "") if sessions else ""
        at = sessions.pop(session, None)
        stale = at < 0 if at is not None else resumed
        at = abs(at) if at is not None else 0
        sessions[session] = -(at + 1) if stale else at + 1
        if len(sessions) > _SESSIONS:
            del sessions[next(iter(sessions))]
        return at, stale

    def _spread(self, place: int) -> float:
        """The sigma a call at `place` is judged by: the place's own once it has learnt from
        `min_place` calls (a long session's late calls swing between a full context and a
        compacted one, its first calls hardly at all), never below the caller's over all
        places (a place whose calls happened to be alike must not make every call news)."""
        if self.scattered[place] < self.p.min_place:
            return self.spread
        return max(self.scatter[place], self.spread)

    def _residual(self, place: int, y: float) -> float:
        """A call's standardised, clipped excess over its place's level (0 while the place
        has too few calls)."""
        spread = self._spread(place)
        if self.placed[place] < self.p.min_place or not spread > 0.0:
            return 0.0
        z = (y - self.level[place]) / spread
        return max(-self.p.clip, min(self.p.clip, z))

    def _inflation(self) -> float:
        """sqrt((1 + rho) / (1 - rho)): how much further a sum of autocorrelated residuals
        wanders than a sum of independent ones (a session's calls are alike)."""
        if not self.c0 > 0.0:
            return 1.0
        rho = min(max(self.c1 / self.c0, 0.0), 0.95)
        return math.sqrt((1.0 + rho) / (1.0 - rho))

    def _peak(self, calls: Sequence[Call], t: float) -> float:
        """The largest CUSUM the window's calls would reach (the levels held where they are)."""
        if not self._judging():
            return 0.0
        s, peak, sessions, weight = self.sum, 0.0, dict(self.sessions), self._weight(len(calls))
        resumed = self._resume(sessions, t)
        for place, value in self._placed(calls, sessions, resumed):
            if value > 0.0:
                s = max(0.0, s + weight * self._excess(place, math.log(value)))
                peak = max(peak, s)
        return peak

    def _learn_call(self, place: int, y: float, weight: float = 1.0) -> None:
        p = self.p
        judging = self._judging()
        self.n += 1
        z = self._residual(place, y)
        if judging:
            self.sum = max(0.0, self.sum + weight * self._excess(place, y))
            if self.sum >= p.h:  # alarmed: the levels start again from the new calls
                self.alarms += 1
                self.sum, self.n = 0.0, 0
                self.placed = [0] * _PLACES
                return
        if p.baseline == "pooled":
            self._learn_pooled(place, y, teaches=self.sum < _SETTLED * p.h)
            return
        if self.sum >= _SETTLED * p.h:
            self.prev = z
            return
        if abs(z) < 3.0:
            self.c0 += p.alpha * (z * z - self.c0)
            self.c1 += p.alpha * (z * self.prev - self.c1)
        self.prev = z
        self._learn_level(place, y)

    def _learn_level(self, place: int, y: float) -> None:
        n = self.placed[place] = self.placed[place] + 1
        if n == 1:
            self.level[place] = y
            return
        alpha = max(1.0 / n, self.p.alpha)
        spread = self.spread
        bound = self.p.clip * spread if spread > 0.0 else math.inf
        r = max(-bound, min(bound, y - self.level[place]))
        self.level[place] += alpha * r
        if n > self.p.min_place:  # the place's level is settled: its calls teach the spread
            self.spreads += 1
            rate = max(1.0 / self.spreads, self.p.alpha)
            self.spread = spread + rate * (MAD_TO_SIGMA * abs(r) - spread)
            m = self.scattered[place] = self.scattered[place] + 1
            rate = max(1.0 / m, self.p.alpha)
            self.scatter[place] += rate * (MAD_TO_SIGMA * abs(r) - self.scatter[place])

    def _learn_pooled(self, place: int, y: float, teaches: bool) -> None:
        """A call of a caller judged by the pool teaches the caller's offset where the place
        has a level, and the pool, through `taught` (the within-caller sigma, from a caller
        whose own mean is known). A call of a creep under way (not `teaches`) teaches neither,
        or the creep would become the normal; but the caller's first calls at a place (before
        their own mean is known) always teach their offset, so that a newcomer whose every
        call is larger than most is judged by their own level after a few calls."""
        raw = None if self.lent is None else excess(self.lent, place, y)
        own = self.offset.own(place)
        if teaches:
            self.fresh.append((place, y, None if raw is None or own is None else raw - own))
        if raw is not None and (teaches or own is None):
            self.offset.learn(place, raw, self.p.alpha)


def _place(position: int, places: int) -> int:
    """A place in a session: the first four calls each their own, then doublings; at most
    `places` places (1: every call compared with the caller's one level)."""
    place = position if position < 4 else 1 + position.bit_length()
    return min(place, places - 1, _PLACES - 1)


def _median(values: Sequence[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2.0
