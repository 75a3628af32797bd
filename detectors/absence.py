"""`absence`: a key that is expected to be active goes silent."""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

from detectors.scoring import deviation_score
from detectors.weekly import CELLS, cell_of, quietest_hour, same_type_cells

# Per hour-of-week cell, exponentially decayed sums: windows seen, windows with activity,
# windows that followed an empty one, and how many of those had activity (resumptions).
_SEEN, _ACTIVE, _AFTER_EMPTY, _RESUMED = (k * CELLS for k in range(4))
_RUN, _RUN_LEN, _ANOMALOUS, _N, _T0H, _DAY_START, _DAY_START_AT, _FLAGGED_AT = range(
    4 * CELLS, 4 * CELLS + 8
)
_SIZE = 4 * CELLS + 8
_MAX_REPLAY = 7 * 24 * 12  # windows of a finished silence learned at most (a week of 5 min)


@dataclass(frozen=True)
class AbsenceParams:
    """surprise: nats of surprise (-log P(a silence this long at these hours)) that score 0.5.

    step: seconds between points (sets how fast the profile forgets old weeks).
    min_points: windows seen before the key can be said to be silent at all.
    """

    surprise: float = 20.0
    step: float = 300.0
    min_points: int = 12


class Absence:
    """Anomalous means: the key has been silent for longer than is plausible at these hours.

    Activity comes in bursts (sessions), so the event count of a window says little about
    how long a silence may last. The model learns, per hour of the week, how often a window
    has any activity and, after an empty window, how often activity resumes in the next one
    (the hazard of resumption). The probability that a silence lasts as long as it has is
    the product of (1 - hazard) over its windows; its surprise, -log of that, adds up window
    by window, but only over hours at which the key is more often active than not (a night
    or a usual break explains a silence, and the count restarts). A busy team that rarely
    has an empty window at 11:00 is surprising after a few silent windows; a small team with
    long gaps between sessions needs a long silence. Where an hour has seen few empty
    windows, the hazard is shrunk towards the share of active windows at that hour (what it
    would be if windows were independent), as strongly as the days behind that share.
    Until an hour of the week has history, the same hour on the other days of the same type
    stands in (see `detectors.weekly`); with no history, nothing is expected. A silence
    teaches the hazard only when it ends (so it is never judged by what it taught itself),
    and an anomalous one only up to the window where it became anomalous (a censored
    observation: leaving out the long silences altogether would teach that silences are
    always short, and over-state the hazard wherever long silences are normal, as at the
    end of a working day).

    >>> m = Absence(AbsenceParams(step=3600))
    >>> for i in range(24 * 14):
    ...     m.learn_one(40.0 if 8 <= i % 24 < 18 else 0.0, i * 3600.0)
    >>> m.score_one(0.0, (24 * 14 + 3) * 3600.0) < 0.1
    True
    >>> for h in range(10, 16):  # hourly points are few: hours of silence before it is sure
    ...     m.learn_one(0.0, (24 * 14 + h) * 3600.0)
    >>> m.score_one(0.0, (24 * 14 + 16) * 3600.0) > 0.5
    True
    """

    __slots__ = ("a", "p")

    def __init__(self, params: AbsenceParams | None = None) -> None:
        self.p = params or AbsenceParams()
        self.a = array("f", bytes(4 * _SIZE))
        self.a[_DAY_START_AT] = -1e9

    def __getstate__(self) -> tuple:
        return (self.a, self.p)

    def __setstate__(self, state: tuple) -> None:
        self.a, self.p = state

    def spawn(self) -> Absence:
        child = Absence.__new__(Absence)
        child.p = self.p
        child.a = array("f", self.a)
        child.a[_RUN] = child.a[_RUN_LEN] = child.a[_ANOMALOUS] = 0.0
        return child

    def is_warm(self, t: float, warmup: float) -> bool:
        a = self.a
        return a[_N] >= self.p.min_points and t - a[_T0H] * 3600.0 >= warmup

    def _pooled(self, t: float) -> tuple[float, float, float, float]:
        """Decayed (seen, active, after-empty, resumed) at t's hour on days of its type."""
        a = self.a
        seen = active = after = resumed = 0.0
        for c in same_type_cells(cell_of(t), int(a[_DAY_START])):
            seen += a[_SEEN + c]
            active += a[_ACTIVE + c]
            after += a[_AFTER_EMPTY + c]
            resumed += a[_RESUMED + c]
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
        # As strong as the days it comes from: observed resumptions outweigh it soon.
        return (resumed + visits * independent) / (after + visits)

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
        as the hazard's (so one or two busy evenings do not yet make the evening busy)."""
        seen, active, _, _ = self._pooled(t)
        return seen > 0.0 and self._active_share(seen, active) >= 0.5

    def _step_surprise(self, t: float) -> float:
        h = self.hazard(t)
        return -math.log(max(1.0 - h, 1e-12)) if h > 0.0 else 0.0

    def _run_surprise(self, t: float) -> float:
        """The silence's surprise after a silent window at t. Only the part of a silence
        in which the key is expected to be active counts: an hour at which it is usually
        idle (a night, a lunch break) explains the silence so far, and the count restarts."""
        if not self._expected_active(t):
            return 0.0
        return self.a[_RUN] + self._step_surprise(t)

    def surprise(self, x: float, t: float) -> float:
        """Nats of surprise of the silence so far, this window included (0 if active)."""
        if x > 0.0:
            return 0.0
        return self._run_surprise(t)

    def score_one(self, x: float, t: float, n: int = 0) -> float:
        if self.a[_N] < self.p.min_points:
            return 0.0
        return deviation_score(self.surprise(x, t), self.p.surprise)

    def describe(self, x: float, t: float, n: int = 0) -> dict:
        seen, active, _, _ = self._pooled(t)
        return {
            "value": x,
            "active_share_at_this_hour": round(active / seen, 4) if seen else 0.0,
            "resume_probability": round(self.hazard(t), 4),
            "surprise_nats": round(self.surprise(x, t), 3),
        }

    def learn_one(self, x: float, t: float, n: int = 0) -> None:
        a, p = self.a, self.p
        if a[_N] == 0.0:
            a[_T0H] = float(int(t // 3600.0))
        a[_N] = a[_N] + 1.0
        hours = int(t // 3600.0)
        if hours - a[_DAY_START_AT] >= 24.0:
            self._find_day_start(hours)
        if x > 0.0:
            if a[_RUN_LEN] > 0.0:
                self._learn_silence(t, int(a[_FLAGGED_AT]) if a[_ANOMALOUS] else 0)
            a[_RUN] = a[_RUN_LEN] = a[_ANOMALOUS] = a[_FLAGGED_AT] = 0.0
        else:
            a[_RUN] = self._run_surprise(t)
            a[_RUN_LEN] = a[_RUN_LEN] + 1.0
            # Like a clipped residual: a silence already half-way to an alert is not learned
            # (else it would explain itself away), and never will be if it ends normally.
            if a[_N] > p.min_points and a[_RUN] >= 0.5 * p.surprise and not a[_ANOMALOUS]:
                a[_ANOMALOUS] = 1.0
                a[_FLAGGED_AT] = a[_RUN_LEN]
            if a[_ANOMALOUS]:
                return  # an anomalous silence: do not learn it as normal
        c = cell_of(t)
        keep = self._keep()
        a[_SEEN + c] = keep * a[_SEEN + c] + 1.0
        a[_ACTIVE + c] = keep * a[_ACTIVE + c] + (1.0 if x > 0.0 else 0.0)

    def _keep(self) -> float:
        """Decay per window of a cell's sums: forget over about two visits of its hour."""
        return 1.0 - min(0.3, max(0.02, self.p.step / 7200.0))

    def _learn_silence(self, t: float, flagged_at: int = 0) -> None:
        """A silence ended at t: teach its hours how often activity resumed after an empty
        window. Done only now, so that a silence is never judged by what it taught itself.
        If it was flagged anomalous at its `flagged_at`-th window, only the windows before
        that are taught, as empty windows that did not resume (censored), and t is not."""
        a, step, keep = self.a, self.p.step, self._keep()
        run = int(a[_RUN_LEN])
        length = min(run, _MAX_REPLAY)
        last = run - flagged_at + 1 if flagged_at else 0  # windows after the flagged one: skip
        for k in range(length, last - 1, -1):  # the silence's windows after its first, then t
            if k == run:
                continue  # the first silent window followed activity
            c = cell_of(t - k * step)
            a[_AFTER_EMPTY + c] = keep * a[_AFTER_EMPTY + c] + 1.0
            a[_RESUMED + c] = keep * a[_RESUMED + c] + (1.0 if k == 0 else 0.0)

    def _find_day_start(self, hours: int) -> None:
        a = self.a
        a[_DAY_START_AT] = float(hours)
        by_hour = [0.0] * 24
        for c in range(CELLS):
            seen = a[_SEEN + c]
            if seen > 0.0:
                by_hour[c % 24] += a[_ACTIVE + c] / seen
        a[_DAY_START] = float(quietest_hour(by_hour))
