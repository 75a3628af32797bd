"""`absence`: a key that is expected to be active goes silent.

A silence is judged by the probability, under the key's own rhythm, that it would last as
long as it has. Two ordinary things make a long silence plausible, and both are modelled:

* The team's day may be over. When its working days usually end is learned (the time of
  the last activity of each of its days), so a silence that starts close to, or within the
  spread of, its usual end explains itself: it is the day ending, not the team vanishing.
* Gaps between sessions are not memoryless. The resumption rate of a team differs from day
  to day (fewer people in, a meeting, a lull), so the longer a silence already is, the more
  likely it is one of the long ones. A Gamma-distributed day-to-day rate turns the survival
  exp(-H) of a memoryless model into (1 + H / a)^-a, where H is the expected number of
  resumptions so far (the cumulative hazard): a decreasing hazard, with surprise growing
  like a * log(H) instead of linearly in the silence's length. Today's own lulls that have
  ended say where today's rate lies; only a slower day than the Gamma's mean is taken from
  them (`detectors.day_rate`): a slow morning explains an afternoon lull, a busy morning
  does not promise a busy afternoon.
"""

from __future__ import annotations

import ctypes
import math
from array import array
from collections.abc import Mapping, MutableSequence, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.day_rate import GRID, fold_lull, survival_correction
from detectors.persist import packed_state, restore_packed
from detectors.scoring import deviation_score
from detectors.weekly import (
    CELLS,
    align_day_start,
    cell_of,
    is_weekend,
    quietest_hour,
    same_type_cells,
)
from detectors.window_model import WindowModel

# Per hour-of-week cell, exponentially decayed sums: windows seen, windows with activity,
# windows that followed an empty one, and how many of those had activity (resumptions); then
# the windows' values (people, where the key counts distinct people), a block added later.
_SEEN, _ACTIVE, _AFTER_EMPTY, _RESUMED, _PEOPLE = (k * CELLS for k in range(5))
_CELL_SUMS = 4 * CELLS  # the blocks a model saved before the people block holds
_SCALARS = (
    "run_hazard",
    "run_windows",
    "anomalous",
    "points",
    "first_hour",
    "day_start",
    "day_start_at",
    "flagged_at",
    "end_nats",
    "day",
    "last_active",
    "day_weekend",
    "day_began",
)
_DAY_TYPES = 2  # per type of day: working day (0), weekend day (1)
_DAY_END_SUMS = ("end_weight", "end_mean", "end_ss")
# Scalars added since the day ends, after them: a record saved before is a prefix of today's.
_LATER_SCALARS = ("deferred", "day_lulls", "run_opening")
# Added after the day's lulls, last, for the same reason.
_LATEST_SCALARS = ("hazard_day",)


class AbsenceStats(ctypes.Structure):
    """One key's scalars beside its per-hour sums, stored as float32 like the sums.

    A C struct, not a slotted object: twenty Python floats would cost a key about 640
    bytes, these cost 88, plus 224 for today's lulls, plus the struct's own header.
    """

    run_hazard: float  # cumulative resumption hazard H of the current silence
    run_windows: float  # windows in the current silence
    anomalous: float  # 1 once the current silence has been flagged (it is then not learned)
    points: float  # windows learned
    first_hour: float  # hour of the first window learned
    day_start: float  # UTC hour at which the key's day starts (its quietest hour)
    day_start_at: float  # hour at which day_start was last learned
    flagged_at: float  # window of the silence at which it was flagged
    end_nats: float  # -log P(the day ended where the current silence began)
    day: float  # index of the key's current day (days of the key's own calendar)
    last_active: float  # end of the last active window of that day, hours into it (-1: none)
    day_weekend: float  # 1 if that day is a weekend day of the key
    day_began: float  # hour (since the epoch) at which that day began; -1: not from a known start
    # Where the key's working days ([0]) and weekend days ([1]) end, hours into its day:
    # decayed weight, mean and sum of squared deviations of the time of the day's last activity.
    end_weight: MutableSequence[float]
    end_mean: MutableSequence[float]
    end_ss: MutableSequence[float]
    deferred: float  # first windows of the current silence, in a begun day: learned at its end
    day_lulls: float  # lulls of the key's current day that ended (folded into day_loglik)
    run_opening: float  # hazard counted at the current silence's first window (no resumption due)
    # log-likelihood of today's lulls over a grid of day-rate multipliers (see detectors.day_rate)
    day_loglik: MutableSequence[float]
    hazard_day: float  # the key's day in which the current silence last gathered evidence

    _fields_ = (
        [(name, ctypes.c_float) for name in _SCALARS]
        + [(name, ctypes.c_float * _DAY_TYPES) for name in _DAY_END_SUMS]
        + [(name, ctypes.c_float) for name in _LATER_SCALARS]
        + [("day_loglik", ctypes.c_float * GRID)]
        + [(name, ctypes.c_float) for name in _LATEST_SCALARS]
    )

    @classmethod
    def fresh(cls) -> AbsenceStats:
        st = cls()  # all zero, then the fields whose "none yet" is not 0
        st.day_start_at = -1e9
        st.day = st.last_active = st.day_began = st.hazard_day = -1.0
        return st

    @classmethod
    def from_saved(cls, saved: bytes) -> AbsenceStats:
        """A record saved by this or an earlier version (a prefix: later fields start fresh)."""
        st = cls.fresh()
        ctypes.memmove(ctypes.addressof(st), saved, min(len(saved), ctypes.sizeof(cls)))
        return st


# Where each field sat in the one float array that held a model's whole state before
# `AbsenceStats` (the per-hour sums first, as now, then the scalars, then the day ends):
# snapshots written then are read by `Absence._restore_one_array`.
_ONE_ARRAY_INDEX = {name: _CELL_SUMS + i for i, name in enumerate(_SCALARS)}
_ONE_ARRAY_DAY_END = {
    name: _CELL_SUMS + len(_SCALARS) + _DAY_TYPES * i for i, name in enumerate(_DAY_END_SUMS)
}
_MAX_REPLAY = 7 * 24 * 12  # windows of a finished silence learned at most (a week of 5 min)
# Hours: how much a team's end of day varies, before it has shown it. A team's day ends with its
# last person's, and a day with two or three of them out (or in a meeting) can end three or
# four hours early; an hour's spread made such a day, among a team's first few, a silence.
_PRIOR_END_SD = 1.5
_END_KEEP = 1.0 - 1.0 / 14.0  # per day of the type: the end of day is learned over ~2 weeks
# Empty windows that did not resume, assumed at every hour before any is seen: a hazard
# learned from a handful of empty windows that all resumed is then never taken as certain.
_PRIOR_UNRESUMED = 0.1


@dataclass(frozen=True)
class AbsenceParams:
    """surprise: nats of surprise (-log P(a silence this long, here)) that score 0.5.

    heterogeneity: shape a of the day-to-day spread of a key's resumption rate (a Gamma
        with coefficient of variation 1/sqrt(a)); smaller = long lulls are more ordinary.
    step: seconds between points (sets how fast the profile forgets old weeks).
    min_points: windows seen before the key can be said to be silent at all.
    min_people: mean value of an active window at an hour (people, with `aggregation:
        distinct` over the person) below which the hour is not one the key is expected to be
        busy at: an hour carried by one person going quiet is them stopping, not the team.
    """

    surprise: float = 10.0
    heterogeneity: float = 10.0
    step: float = 300.0
    min_points: int = 12
    min_people: float = 0.0


class Absence(WindowModel[AbsenceParams, float, float]):
    """Anomalous means: the key has been silent for longer than is plausible at these hours.

    Activity comes in bursts (sessions), so the event count of a window says little about
    how long a silence may last. The model learns, per hour of the week, how often a window
    has any activity and, after an empty window, how often activity resumes in the next one
    (the hazard of resumption). The expected number of resumptions over a silence, H, is
    the sum of -log(1 - hazard) over its windows, but only over hours at which the key is
    more often active than not (a night or a usual break explains a silence, and the count
    restarts). A busy team that rarely has an empty window at 11:00 gathers H fast; a small
    team with long gaps between sessions needs a long silence. Where an hour has seen few
    empty windows, the hazard is shrunk towards the share of active windows at that hour
    (what it would be if windows were independent), as strongly as the days behind that
    share. Until an hour of the week has history, the same hour on the other days of the
    same type stands in (see `detectors.weekly`); with no history, nothing is expected.

    The probability of the silence is then P(day over) + (1 - P(day over)) (1 + H/a)^-a
    (see the module docstring): the day may have ended where the silence began (from the
    spread of the key's past ends of day, wider while there are few of them), else the
    team's rate varies from day to day with shape a. A silence teaches the hazard only when
    it ends (so it is never judged by what it taught itself), and an anomalous one only up
    to the window where it became anomalous (a censored observation: leaving out the long
    silences altogether would teach that silences are always short).

    >>> m = Absence(AbsenceParams(step=3600))
    >>> for i in range(24 * 14):
    ...     m.learn_one(40.0 if 8 <= i % 24 < 18 else 0.0, i * 3600.0)
    >>> m.score_one(0.0, (24 * 14 + 3) * 3600.0) < 0.1
    True
    >>> for h in range(10, 17):  # hourly points are few: hours of silence before it is sure
    ...     m.learn_one(0.0, (24 * 14 + h) * 3600.0)
    >>> m.score_one(0.0, (24 * 14 + 17) * 3600.0) > 0.5
    True
    """

    __slots__ = ("cells", "p", "peers", "stats")
    Params = AbsenceParams
    inherits = False
    hears_peers = True

    def __init__(self, params: AbsenceParams | None = None) -> None:
        self.p = params or AbsenceParams()
        self.cells = array("f", bytes(4 * 5 * CELLS))
        self.stats = AbsenceStats.fresh()
        self.peers: float | None = None  # told each window (`hear_peers`), never saved

    def __getstate__(self) -> tuple[array[float], bytes, AbsenceParams]:
        return packed_state(self)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.peers = None
        if len(state) == 3 and len(state[1]) < ctypes.sizeof(AbsenceStats):
            self.cells, saved, self.p = state  # saved before the later scalars
            self.stats = AbsenceStats.from_saved(saved)
        else:
            restore_packed(self, state, AbsenceStats)
        if len(self.cells) < _PEOPLE + CELLS or not any(self.cells[_PEOPLE:]):
            self._assume_people()

    def _assume_people(self) -> None:
        """A model saved before it counted people: each active window of its past is taken
        to have held twice `min_people` (one person if none is asked), so an hour active in
        half its windows or more passes the bound: its hours are judged as they were."""
        cells, per = self.cells[:_PEOPLE], max(2.0 * self.p.min_people, 1.0)
        self.cells = cells + array("f", (per * cells[_ACTIVE + c] for c in range(CELLS)))

    def _restore_one_array(self, a: array[float], p: AbsenceParams) -> None:
        """A model saved as one float array (the sums, then the scalars and the day ends at
        fixed indices); a shorter array, from before later fields, keeps their initial values."""
        Absence.__init__(self, p)
        self.cells[:_CELL_SUMS] = a[:_CELL_SUMS]
        st = self.stats
        for name, i in _ONE_ARRAY_INDEX.items():
            if i < len(a):
                setattr(st, name, a[i])
        for name, i in _ONE_ARRAY_DAY_END.items():
            sums = getattr(st, name)
            for kind in range(_DAY_TYPES):
                if i + kind < len(a):
                    sums[kind] = a[i + kind]

    def spawn(self) -> Absence:
        child = Absence.__new__(Absence)
        child.p = self.p
        child.cells = array("f", self.cells)
        child.stats = AbsenceStats.from_buffer_copy(self.stats)
        child.peers = None
        st = child.stats
        st.run_hazard = st.run_windows = st.anomalous = st.end_nats = st.deferred = 0.0
        _forget_today(st)
        return child

    def is_warm(self, t: float, warmup: float) -> bool:
        st = self.stats
        return st.points >= self.p.min_points and t - st.first_hour * 3600.0 >= warmup

    def _pooled(self, t: float) -> tuple[float, float, float, float]:
        """Decayed (seen, active, after-empty, resumed) at t's hour on days of its type."""
        cells, st = self.cells, self.stats
        seen = active = after = resumed = 0.0
        for c in same_type_cells(cell_of(t), int(st.day_start)):
            seen += cells[_SEEN + c]
            active += cells[_ACTIVE + c]
            after += cells[_AFTER_EMPTY + c]
            resumed += cells[_RESUMED + c]
        return seen, active, after, resumed

    def hazard(self, t: float) -> float:
        """P(activity resumes in the window at t | the previous window was empty)."""
        seen, active, after, resumed = self._pooled(t)
        if seen < 0.5:
            return 0.0  # nothing known about this hour: no claim that it should be busy
        # The share of active windows, if windows were independent. They are not (a session
        # spans many windows), so an hour's windows on one day count as one observation, and
        # the estimate is shrunk towards "not active" by half an observation (Jeffreys):
        # activity is claimed only where it has been seen.
        visits = seen / self._per_hour()
        independent = self._active_share(seen, active)
        # As strong as the days it comes from: observed resumptions outweigh it soon. A tenth
        # of an empty window that did not resume is assumed besides: an hour whose few empty
        # windows all resumed (rare where a team is busy) claims a high hazard, not certainty.
        return (resumed + visits * independent) / (after + visits + _PRIOR_UNRESUMED)

    def _active_share(self, seen: float, active: float) -> float:
        """P(a window at this hour is active): the observed share, shrunk towards "not
        active" by half an observation (Jeffreys), where an hour's windows on one day count
        as one observation (a session spans many windows)."""
        visits = seen / self._per_hour()
        return (active / seen) * visits / (visits + 0.5)

    def _per_hour(self) -> float:
        return max(1.0, 3600.0 / self.p.step) if self.p.step > 0 else 12.0

    def _expected_active(self, t: float) -> bool:
        """Whether the key is more often active than not at t's hour, by the same estimate
        as the hazard's (so one or two busy evenings do not yet make the evening busy), and
        busy with at least `min_people` in an active window on average."""
        seen, active, _, _ = self._pooled(t)
        if seen <= 0.0:
            return False
        if self._active_share(seen, active) < 0.5 and not self._resumes_hourly(t):
            return False
        return self.p.min_people <= 0.0 or self._people(t) >= self.p.min_people * active

    def _resumes_hourly(self, t: float) -> bool:
        """Whether, at t's hour, an hour without activity is rarer than one with: a small
        team is idle in most of its five-minute windows, yet at work every hour."""
        return self._step_hazard(t) * self._per_hour() > math.log(2.0)

    def _people(self, t: float) -> float:
        """Decayed sum of the windows' values at t's hour on days of its type."""
        cells, day_start = self.cells, int(self.stats.day_start)
        return sum(cells[_PEOPLE + c] for c in same_type_cells(cell_of(t), day_start))

    def _step_hazard(self, t: float) -> float:
        h = self.hazard(t)
        return -math.log(max(1.0 - h, 1e-12)) if h > 0.0 else 0.0

    def _day_begun(self, t: float) -> bool:
        """Whether the key has been active in its day that holds t."""
        st = self.stats
        return self._day_of(t) <= st.day and st.last_active >= 0.0

    def _run_hazard(self, t: float) -> float:
        """The silence's cumulative hazard after a silent window at t. Only the part of a
        silence in which the key is expected to be active counts: an hour at which it is
        usually idle (a night, a lunch break) explains that part of the silence.

        In a day the key has begun, such an hour adds nothing and takes nothing away: the
        evidence gathered before a lunch break is kept, and a silence that goes on after it
        is judged whole. Before the day's first activity (a day with none may be a day off,
        or begin late), and in a new day of the key (from its quietest hour), the count
        starts again."""
        if not self._expected_active(t):
            return self.stats.run_hazard if self._holds(t) else 0.0
        if self._shared_silence():
            return self.stats.run_hazard  # held until the organisation is seen at work
        return self.stats.run_hazard + self._step_hazard(t)

    def _holds(self, t: float) -> bool:
        """Whether an hour at which the key is not expected busy keeps the silence's evidence:
        in a day it has begun, or once the silence has gathered evidence in this day (a day
        with no activity by the end of its morning is not saved by its lunch hour)."""
        st = self.stats
        if self._day_begun(t):
            return True
        return st.run_hazard > 0.0 and st.hazard_day == self._day_of(t)

    def peer_state(self, t: float, has_events: bool) -> tuple[bool, float] | None:
        """None until it has learned enough to say; else whether it is expected at work at
        t (an hour it is busy at) and the hours since its last active window."""
        st = self.stats
        if st.points < self.p.min_points:
            return None
        return self._expected_active(
            t
        ), 0.0 if has_events else st.run_windows * self.p.step / 3600.0

    def hear_peers(self, share: float | None) -> None:
        self.peers = share

    def _shared_silence(self) -> bool:
        """Whether the organisation is not seen at work: most of the other keys expected at
        work are silent too (a holiday, the telemetry's path down, an offsite). Such a window
        is held: it neither adds to the silence's evidence nor starts it again. A key alone in
        its hours (no other expected) is judged on its own rhythm once any key, itself
        included, was at work lately: its own day begun shows the organisation at work."""
        peers = getattr(self, "peers", None)
        return peers is not None and peers < 0.5

    def _shape(self, t: float) -> float:
        """Gamma shape of today's resumption rate around the learned one: the day-to-day
        spread (heterogeneity), widened by 1 + 1/days for the uncertainty of a rate learned
        from few days (the same inflation as a predictive variance)."""
        days = max(0.0, t / 86400.0 - self.stats.first_hour / 24.0)
        return self.p.heterogeneity * days / (days + 1.0)

    def _surprise_of(self, hazard: float, end_nats: float, t: float) -> float:
        """-log P(a silence with this cumulative hazard | the day may have ended)."""
        shape = self._shape(t)
        if hazard <= 0.0 or shape <= 0.0:
            return 0.0
        log_gap = -shape * math.log1p(hazard / shape)  # log (1 + H/a)^-a
        if self.stats.day_lulls > 0.0:  # today's lulls say how busy the key is today
            slower = max(0.0, survival_correction(self.stats.day_loglik, hazard, shape))
            log_gap = min(0.0, log_gap + slower)
        log_end = -max(end_nats, 0.0)
        # log(P_end + (1 - P_end) * P_gap), computed without underflow.
        hi, lo = max(log_end, log_gap), min(log_end, log_gap)
        mixed = hi + math.log1p(math.exp(lo - hi) - math.exp(log_end + log_gap - hi))
        return max(0.0, -mixed)

    def surprise(self, x: float, t: float) -> float:
        """Nats of surprise of the silence so far, this window included (0 if active)."""
        if x > 0.0:
            return 0.0
        return self._surprise_of(self._run_hazard(t), self._current_end_nats(t), t)

    def score_one(self, x: float, t: float, n: int = 0) -> float:
        if self.stats.points < self.p.min_points:
            return 0.0
        return deviation_score(self.surprise(x, t), self.p.surprise)

    def describe(self, x: float, t: float, n: int = 0) -> dict[str, Any]:
        seen, active, _, _ = self._pooled(t)
        end_nats = self._current_end_nats(t)
        return {
            "value": x,
            "active_share_at_this_hour": round(active / seen, 4) if seen else 0.0,
            "resume_probability": round(self.hazard(t), 4),
            "day_over_probability": round(math.exp(-end_nats), 4) if end_nats > 0 else 0.0,
            "surprise_nats": round(self.surprise(x, t), 3),
        }

    def learn_one(self, x: float, t: float, n: int = 0) -> None:
        cells, st, p = self.cells, self.stats, self.p
        if st.points == 0.0:
            st.first_hour = float(int(t // 3600.0))
        st.points = st.points + 1.0
        hours = int(t // 3600.0)
        if hours - st.day_start_at >= 24.0:
            self._find_day_start(hours)
        self._roll_day(t)
        if x > 0.0:
            if st.run_windows > 0.0:
                self._fold_lull(t)
                self._learn_silence(t, int(st.flagged_at) if st.anomalous else 0)
            st.run_hazard = st.run_windows = st.anomalous = st.flagged_at = st.end_nats = 0.0
            st.deferred = 0.0
            st.last_active = self._hours_into_day(t) + p.step / 3600.0
        else:
            self._extend_silence(t)
            # Like a clipped residual: a silence already half-way to an alert is not learned
            # (else it would explain itself away), and never will be if it ends normally.
            half_way = self._surprise_of(st.run_hazard, st.end_nats, t) >= 0.5 * p.surprise
            if st.points > p.min_points and half_way and not st.anomalous:
                st.anomalous = 1.0
                st.flagged_at = st.run_windows
            if st.anomalous:
                return  # an anomalous silence: do not learn it as normal
            if self._defers(t):  # learned when the silence ends
                st.deferred = st.deferred + 1.0
                return
        c = cell_of(t)
        keep = self._keep()
        cells[_SEEN + c] = keep * cells[_SEEN + c] + 1.0
        cells[_ACTIVE + c] = keep * cells[_ACTIVE + c] + (1.0 if x > 0.0 else 0.0)
        cells[_PEOPLE + c] = keep * cells[_PEOPLE + c] + max(x, 0.0)

    def _extend_silence(self, t: float) -> None:
        """A silent window at t: the silence's evidence so far, and the day it last grew in."""
        st = self.stats
        if st.run_hazard == 0.0:  # the silence starts, or starts to count after idle hours
            st.end_nats = self._end_nats(t)
        hazard = self._run_hazard(t)
        if hazard > st.run_hazard:
            st.hazard_day = float(self._day_of(t))
        st.run_hazard = hazard
        if st.run_windows == 0.0:
            st.run_opening = st.run_hazard
        st.run_windows = st.run_windows + 1.0

    def _fold_lull(self, t: float) -> None:
        """A silence ended at t: if it counted hazard in today's begun day, it tells how busy
        the key is today (see `detectors.day_rate`). The step hazard at t is read before the
        silence is learned; a resumption at an hour with no expectation tells only that the
        lull lasted. Its first window followed activity, so only the hazard after it counts."""
        st = self.stats
        if st.run_hazard <= 0.0 or st.last_active < 0.0:
            return
        step = self._step_hazard(t) if self._expected_active(t) else 0.0
        # The first silent window followed activity: no resumption was due in it.
        fold_lull(st.day_loglik, max(st.run_hazard - st.run_opening, 0.0), step)
        st.day_lulls = st.day_lulls + 1.0

    def _defers(self, t: float) -> bool:
        """Whether the silent window at t is learned only when its silence ends: while the
        silence is in a day that has begun (a day with no activity yet may be a day off), has
        been deferred from its first window on, and the hour's expectation rests on at least
        two days (one busy evening does not keep an early finish from teaching its hours)."""
        st = self.stats
        if st.last_active < 0.0 or st.deferred != st.run_windows - 1.0:
            return False
        return self._pooled(t)[0] > self._per_hour()  # more windows than one day holds

    def _keep(self) -> float:
        """Decay per window of a cell's sums: forget over about two visits of its hour."""
        return 1.0 - min(0.3, max(0.02, self.p.step / 7200.0))

    def _learn_silence(self, t: float, flagged_at: int = 0) -> None:
        """A silence ended at t: teach its hours how often activity resumed after an empty
        window. Done only now, so that a silence is never judged by what it taught itself.
        If it was flagged anomalous at its `flagged_at`-th window, only the windows before
        that are taught, as empty windows that did not resume (censored), and t is not.

        The silence's windows in the day it began in (a day with activity before it: its
        first `deferred` windows) are counted as seen and not active only now, too. Learned
        as they came, the hours of a long silence would soon look idle (a cell forgets over
        about two visits of its hour), the silence would pass for a usual break and its
        evidence would start again. A day with no activity yet is learned as it comes (it
        may be a day off)."""
        cells, st, step, keep = self.cells, self.stats, self.p.step, self._keep()
        run = int(st.run_windows)
        length = min(run, _MAX_REPLAY)
        last = run - flagged_at + 1 if flagged_at else 0  # windows after the flagged one: skip
        deferred_from = max(run - int(st.deferred), 0)  # windows k > this were deferred
        for k in range(length, last - 1, -1):  # the silence's windows, oldest first, then t
            c = cell_of(t - k * step)
            if k > deferred_from:
                cells[_SEEN + c] = keep * cells[_SEEN + c] + 1.0
                cells[_ACTIVE + c] = keep * cells[_ACTIVE + c]
                cells[_PEOPLE + c] = keep * cells[_PEOPLE + c]
            if k == run:
                continue  # the first silent window followed activity
            cells[_AFTER_EMPTY + c] = keep * cells[_AFTER_EMPTY + c] + 1.0
            cells[_RESUMED + c] = keep * cells[_RESUMED + c] + (1.0 if k == 0 else 0.0)

    # --- when the key's days end ------------------------------------------------------

    def _day_of(self, t: float) -> int:
        """Index of the key's own day holding t (its days start at its quietest hour)."""
        return int((t / 3600.0 - self.stats.day_start) // 24.0)

    def _hours_into_day(self, t: float) -> float:
        """Hours since the key's current day began (its start stays put for the day)."""
        st = self.stats
        began = st.day_began if st.day_began >= 0.0 else st.day * 24.0 + st.day_start
        return t / 3600.0 - began

    def _is_weekend(self, t: float) -> bool:
        return is_weekend(cell_of(t), int(self.stats.day_start))

    def _current_end_nats(self, t: float) -> float:
        """-log P(the day ended where the current silence began), or at t if none runs."""
        return self.stats.end_nats if self.stats.run_hazard > 0.0 else self._end_nats(t)

    def _roll_day(self, t: float) -> None:
        """At the first window of a new day of the key, learn when the previous day ended.

        Every day counts, even one that ended in a silence flagged as anomalous: when a day
        ends is a fact about the day, and leaving out the early ends that looked anomalous
        would keep a team whose days end at varied hours from ever learning it. Only a day
        seen whole, cut by one day start learned from data, is learned; one that ran into the
        next ends at the latest, the day's boundary (a key busy round the clock never ends)."""
        st, day = self.stats, self._day_of(t)
        if day <= st.day:
            return
        whole = st.day_began >= st.first_hour
        if st.day >= 0.0 and st.last_active >= 0.0 and whole:
            kind = int(st.day_weekend)
            w, mean = st.end_weight[kind] * _END_KEEP, st.end_mean[kind]
            end = st.last_active
            # Weighted Welford update of the mean and squared deviations.
            delta = end - mean
            mean += delta / (w + 1.0)
            st.end_ss[kind] = st.end_ss[kind] * _END_KEEP + w / (w + 1.0) * delta * delta
            st.end_mean[kind], st.end_weight[kind] = mean, w + 1.0
        st.day, st.last_active = float(day), -1.0
        _forget_today(st)
        st.day_weekend = 1.0 if self._is_weekend(t) else 0.0
        known = st.day_start_at >= st.first_hour + 24.0  # the day start was learned from a day
        st.day_began = day * 24.0 + st.day_start if known else -1.0

    def _end_nats(self, t: float) -> float:
        """-log P(the key's day ended with the window before t | it lasted until then).

        The hazard, at the end of that window, of the day's last activity, whose time is
        taken as normal around the key's past ends of day on days of this type, with a
        spread that starts at an hour and a half (a prior worth one day) and is widened by
        1 + 1/days for the uncertainty of the mean: after a day or two, an end a few hours
        earlier than usual is no surprise. Before a day of this type has ended, the end is
        taken from the hours at which the key has been seen at work (`_usual_end`), with the
        prior's spread; with none, as equally likely in any window left of the day."""
        st = self.stats
        kind = 1 if self._is_weekend(t) else 0
        w = st.end_weight[kind]
        end = self._hours_into_day(t)
        width = self.p.step / 3600.0
        if w > 0.0:
            var = (_PRIOR_END_SD**2 + max(st.end_ss[kind], 0.0)) / (1.0 + w) * (1.0 + 1.0 / w)
            mean = st.end_mean[kind]
        else:  # no day of this type has ended yet
            usual = self._usual_end(t)
            if usual is None:  # nor been at work: it may end any time before the next
                return math.log(max(24.0 - end + width, width) / width)
            mean, var = usual, _PRIOR_END_SD**2
        sd = math.sqrt(var)
        lo = _log_normal_sf((end - width - mean) / sd)
        hi = _log_normal_sf((end - mean) / sd)
        if lo < -700.0:
            return 0.0  # far beyond every plausible end: the day is surely over
        # log P(end in the window | end after its start) = log(1 - sf(hi) / sf(lo))
        return -math.log(-math.expm1(hi - lo)) if hi < lo else 690.0

    def _usual_end(self, t: float) -> float | None:
        """Hours into the key's day that holds t at which its usual working hours end: the end
        of the last hour at which it is more often active than not on days of t's type, as
        learned so far (None: no such hour). A team's first day shows when it works before
        any of its days has been seen whole; taking its end as equally likely anywhere in the
        rest of the day made every silence on its second day a plausible end of day."""
        began = t / 3600.0 - self._hours_into_day(t)
        last = None
        for h in range(24):
            if self._expected_active((began + h + 0.5) * 3600.0):
                last = float(h + 1)
        return last

    def _find_day_start(self, hours: int) -> None:
        cells, st = self.cells, self.stats
        st.day_start_at = float(hours)
        by_hour = [0.0] * 24
        share: list[float | None] = [None] * CELLS
        for c in range(CELLS):
            seen = cells[_SEEN + c]
            if seen > 0.0:
                share[c] = cells[_ACTIVE + c] / seen
                by_hour[c % 24] += cells[_ACTIVE + c] / seen
        # the quietest hour, on the UTC day whose alignment leaves the weekend the quieter
        start = float(align_day_start(quietest_hour(by_hour), share))
        old_began = st.day * 24.0 + st.day_start
        if start != st.day_start and st.day >= 0.0:
            # days counted from the new start: the current day must not lie in its future
            today = (hours - start) // 24.0
            if st.day > today:
                st.day = today
                if st.day_began >= 0.0:
                    st.day_began = today * 24.0 + start
        st.day_start = start
        self._adopt_current_day(hours, old_began)

    def _adopt_current_day(self, hours: int, old_began: float) -> None:
        """Once the day start is learned from a whole day of data, the day under way began
        after the key was first seen, so it is seen whole: its end is learned when it rolls.
        Else a team's first working-day end would be learned only on its fourth day, and
        until then any silence could be the day ending (a team silent on its third day
        would go unnoticed)."""
        st = self.stats
        if st.day < 0.0 or st.day_began >= 0.0 or hours < st.first_hour + 24.0:
            return
        today = (hours - st.day_start) // 24.0
        began = today * 24.0 + st.day_start
        if st.day != today or began < st.first_hour:
            return
        if st.last_active >= 0.0:  # measured from where the day began before
            last = st.last_active + old_began - began
            st.last_active = last if last > 0.0 else -1.0
        st.day_began = began

    @classmethod
    def check_spec(
        cls,
        kind: str,
        aggregations: Sequence[str],
        group_by: Sequence[str],
        params: Mapping[str, Any],
        budgets: Mapping[str, float],
    ) -> None:
        super().check_spec(kind, aggregations, group_by, params, budgets)
        if aggregations[0] not in ("count", "sum", "distinct"):
            raise ValueError("kind 'absence' needs `aggregation: count` (or sum, or distinct)")


def _forget_today(st: AbsenceStats) -> None:
    """A new day of the key: its busyness is judged afresh."""
    st.day_lulls = 0.0
    for i in range(GRID):
        st.day_loglik[i] = 0.0


def _log_normal_sf(z: float) -> float:
    """log P(Z > z) for a standard normal Z, accurate far into both tails."""
    if z < 25.0:
        return math.log(0.5 * math.erfc(z / math.sqrt(2.0)))
    # Mills ratio: P(Z > z) ~ phi(z) / z * (1 - 1/z^2 + 3/z^4)
    return -0.5 * z * z - math.log(z * math.sqrt(2.0 * math.pi)) + math.log1p(-1 / z**2 + 3 / z**4)
