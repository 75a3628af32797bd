"""Seasonal baseline: hour-of-day x day-of-week profiles learned online, robust residual score."""

from __future__ import annotations

import ctypes
import math
from array import array
from dataclasses import dataclass
from functools import cache
from typing import Any

from detectors.persist import packed_state, restore_packed
from detectors.quiet_period import QuietPeriod, remember_scored, repeat_period, unrepeated
from detectors.scoring import (
    MAD_TO_SIGMA,
    TAIL_Z,
    deviation_score,
    directed,
    log_scale,
    noise_floor,
    robust_step,
    tail_step,
)
from detectors.window_model import WindowModel

_CELLS = 168  # hours in a week: cell = day-of-week * 24 + hour-of-day (UTC)
_SCALES = _CELLS  # then 48 sigmas: hour-of-day on working days, then on weekends
_PEAK = _CELLS + 48  # then 24: per hour of the day, the usual largest residual in that hour
_SIZE = _PEAK + 24
_PEAK_ALPHA = 0.3  # the usual peak of an hour follows its last few days
_NAN = float("nan")
_EPOCH_MONDAY_SHIFT = 72  # 1970-01-01 was a Thursday: +72 h puts Monday 00:00 at cell 0
_WEEKDAY_CELLS = tuple(tuple(d * 24 + h for d in range(5)) for h in range(24))
_EVENT_NOISE = ("poisson", "compound")
_WEEKEND_CELLS = tuple(tuple(d * 24 + h for d in range(5, 7)) for h in range(24))
_STAT_NAMES = (
    "loc",
    "scale",
    "residual_scale",
    "points",
    "first_hour",
    "outlier_run",
    "event_unit",
    "dispersion",
    "active_level",
    "level",
    "tail",
    "hour_peak",
    "hour",
)


class SeasonalStats(ctypes.Structure):
    """One key's scalars beside its profile cells, stored as float32 like the cells.

    A C struct, not a slotted object: thirteen Python floats would cost a key about 430
    bytes, this costs about 150, and a million keys must fit in 2 GiB.
    """

    loc: float  # global robust location, before the profile has its hour
    scale: float  # global robust sigma
    residual_scale: float  # typical size of the residuals from profile plus level
    points: float  # windows learned
    first_hour: float  # hours since the epoch of the first window learned
    outlier_run: float  # consecutive points beyond the clip (a shift once long enough)
    event_unit: float  # mean value of one event (compound noise)
    dispersion: float  # variance over the Poisson variance (events come in sessions)
    active_level: float  # the upper level of an active window (on/off keys)
    level: float  # level offset: the recent mean residual from the profile
    tail: float  # 98th percentile of residual sizes (recurring spikes)
    hour_peak: float  # the largest residual so far in the current hour
    hour: float  # hours since the epoch of that hour, -1 before the first

    _fields_ = [(name, ctypes.c_float) for name in _STAT_NAMES]

    @classmethod
    def fresh(cls) -> SeasonalStats:
        return cls(_NAN, _NAN, _NAN, 0.0, _NAN, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, -1.0)


# Where each field sat in the one float array that held a model's whole state before
# `SeasonalStats` (cells and scales first, as now, then the stats, the peaks, the hour's):
# snapshots written then are read by `SeasonalBaseline._restore_one_array`.
_ONE_ARRAY_PEAK = _CELLS + 59
_ONE_ARRAY_INDEX = dict(
    zip(_STAT_NAMES, [*range(_CELLS + 48, _CELLS + 59), _CELLS + 83, _CELLS + 84], strict=True)
)


def _scale_index(cell: int) -> int:
    return _SCALES + (24 if cell >= 120 else 0) + cell % 24


def ignores_empty_windows(params: SeasonalParams) -> bool:
    """Whether models with these params skip the empty windows of an active key (`_idle`)."""
    return params.direction == "up" and params.noise in _EVENT_NOISE


@cache
def _peak_z(step: float) -> float:
    """The expected largest of an hour's residuals, in sigmas, for normal noise: the mean of
    the maximum of n half-normal variables, n the points per hour (0.80 for one, 1.9 for 12)."""
    n = max(1, round(3600.0 / step)) if step > 0 else 12
    m, total, dm = 0.0, 0.0, 0.002
    while m < 10.0:  # E[max] = integral of P(max > m)
        total += (1.0 - math.erf(m / math.sqrt(2.0)) ** n) * dm
        m += dm
    return total


@cache
def _level_alpha(step: float) -> float:
    """How fast the level offset follows the recent residuals: over about a day of points."""
    return min(0.2, max(0.002, step / 86400.0 if step > 0 else 0.0035))


@cache
def _cell_alpha(step: float) -> float:
    """How fast an hour's cell learns: over about two visits of an hour (two weeks), within
    sane bounds (one value per detector, so cached)."""
    points_per_hour = 3600.0 / step if step > 0 else 12.0
    return min(0.3, max(0.02, 1.0 / (2.0 * points_per_hour)))


def same_hour_cells(cell: int) -> tuple[int, ...]:
    """The cells of the same hour on days of the same type (working day or weekend)."""
    return (_WEEKEND_CELLS if cell >= 120 else _WEEKDAY_CELLS)[cell % 24]


@dataclass(frozen=True)
class SeasonalParams:
    """Knobs (shared by all keys of a detector, so they cost nothing per key).

    z: the residual, in robust sigmas, that scores 0.5. direction: up|down|both.
    transform: none, or log for a positive metric whose values span orders of magnitude
    (bytes, requests): the model then works on log(1 + x), so changes are relative.
    step: seconds between points (sets how fast an hour's cell learns). noise: none, or how
    the value was produced from `n` events (poisson: a count, compound: a sum of event values,
    binomial: a share), which floors sigma so that a handful of events is never a spike;
    for counts and sums the floor is scaled by the learned overdispersion (events come in
    sessions, so the variance is several times the Poisson one).
    repeat: the points after a score during which a score counts only if it passes it (0:
    every score counts); a spike of a size that recurs, and the points after a step that
    the profile still lags, are then no news (see `quiet_period.unrepeated`). On by
    default: without it, the points after an excursion score as high as the excursion
    itself, and any threshold low enough to find quieter anomalies raises an alarm on each.
    60 by default (five hours of 5-minute points): the profile and the level offset take
    hours, not ten points, to absorb a step, and a metric that spikes once tends to spike
    again within hours at about that size; with 10 those echoes were most of the false
    alarms on labelled series (the quiet period is a few block maxima whatever its length).
    The default detectors set their own (`repeat: 10` on 15-minute windows).
    """

    z: float = 5.0
    direction: str = "both"
    step: float = 300.0
    noise: str = "none"
    clip: float = 3.0
    min_points: int = 12
    adapt_after: int = 24
    transform: str = "none"
    repeat: int = 60


class SeasonalBaseline(WindowModel[SeasonalParams, float, float]):
    """What is normal for this hour of this weekday, and how far the point is from it.

    The model keeps, for each of the 168 hours of the week, a robust location, and for each
    hour of a working day and of a weekend day a robust sigma (Huber-clipped exponentially
    weighted mean and mean absolute deviation; sharing sigma across days of a type gives it
    five times the data), plus a global level and the typical size of residuals. A point is
    anomalous when its residual from the expected value for its hour, divided by a robust
    sigma, is large. Until a cell has seen a full week, the expected value comes from the
    same hour on the other days of the same type, working day or weekend (hour-of-day
    profile), and before that from the global level.

    A cell is visited once a week, so on its own the profile would lag a level that moves
    between weeks (a warm spell, a growing team): the expected value is the profile plus a
    level offset, the recent mean of the residuals from the profile (over about a day, as in
    Holt-Winters' additive form), and sigma is learned from the residuals of that sum.
    Spikes that recur are normal too: a job at the top of every hour (sigma is at least the
    98th percentile of residual sizes over 2.33), or every night at 03:00 (per hour of the
    day, sigma is at least the usual largest residual in that hour over what the largest of
    its points would be for normal noise). Outliers are clipped while learning so an
    incident does not teach itself as normal (a run of outliers past its second point
    teaches neither tail); a shift that persists for `adapt_after` points is accepted as
    the new normal.

    State is one compact float32 array of cells plus a C struct of float32 scalars (about
    1.1 kB in all), so a million keys fit in memory.

    >>> m = SeasonalBaseline(SeasonalParams(direction="up", step=3600))
    >>> for i in range(24 * 14):
    ...     t = i * 3600.0
    ...     m.learn_one(10.0 + (5.0 if (i % 24) >= 12 else 0.0) + (i % 3) * 0.1, t)
    >>> m.score_one(15.1, 24 * 14 * 3600.0 + 13 * 3600) < 0.1
    True
    >>> m.score_one(60.0, 24 * 14 * 3600.0 + 13 * 3600) > 0.9
    True
    """

    __slots__ = ("cells", "p", "quiet", "stats")
    Params = SeasonalParams

    def __init__(self, params: SeasonalParams | None = None) -> None:
        self.p = params or SeasonalParams()
        self.cells = array("f", [_NAN]) * _SIZE
        self.stats = SeasonalStats.fresh()
        self.quiet = repeat_period(self.p.repeat)  # the scores of the last `repeat` points

    def __getstate__(self) -> tuple[Any, ...]:
        if self.quiet is None:
            return packed_state(self)
        return (*packed_state(self), self.quiet)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        """The packed state, and the repeats' quiet period after it when there is one."""
        quiet: QuietPeriod | None = state[3] if len(state) == 4 else None
        restore_packed(self, state[:3], SeasonalStats)
        self.quiet = quiet if quiet is not None else repeat_period(self.p.repeat)

    def _restore_one_array(self, a: array[float], p: SeasonalParams) -> None:
        """A model saved as one float array (cells, scales, then the stats and the peaks at
        fixed indices); a shorter array, from before later fields, keeps their initial values."""
        SeasonalBaseline.__init__(self, p)
        cells = a[:_PEAK]
        self.cells[: len(cells)] = cells
        peaks = a[_ONE_ARRAY_PEAK : _ONE_ARRAY_PEAK + 24]
        self.cells[_PEAK : _PEAK + len(peaks)] = peaks
        for name, i in _ONE_ARRAY_INDEX.items():
            if i < len(a):
                setattr(self.stats, name, a[i])

    @property
    def n(self) -> int:
        return int(self.stats.points)

    def spawn(self) -> SeasonalBaseline:
        """A new key's model that starts from this (parent) baseline."""
        child = SeasonalBaseline.__new__(SeasonalBaseline)
        child.p = self.p
        child.cells = array("f", self.cells)
        child.stats = SeasonalStats.from_buffer_copy(self.stats)
        child.stats.outlier_run = 0.0
        child.stats.hour, child.stats.hour_peak = -1.0, 0.0
        child.quiet = repeat_period(self.p.repeat)
        return child

    def is_warm(self, t: float, warmup: float) -> bool:
        st = self.stats
        return st.points > 0 and t - st.first_hour * 3600.0 >= warmup

    def _expect(self, t: float) -> tuple[float, float]:
        """Expected value (profile plus level offset) and sigma for time t."""
        loc, scale = self._profile(t)
        return loc + self.stats.level, scale

    def _profile(self, t: float) -> tuple[float, float]:
        """The profile's value and sigma for time t (cell, else hour-of-day, else global)."""
        a, st = self.cells, self.stats
        h = int(t // 3600.0)
        b = (h + _EPOCH_MONDAY_SHIFT) % _CELLS
        scale = a[_scale_index(b)]
        if scale != scale:
            scale = st.scale
        loc = a[b]
        if loc == loc and h - st.first_hour >= _CELLS:
            return loc, scale
        total = 0.0
        k = 0
        for c in same_hour_cells(b):
            v = a[c]
            if c != b and v == v:
                total += v
                k += 1
        if k:
            return total / k, scale
        return st.loc, st.scale

    def _sigma(self, expected: float, scale: float, n: int, t: float) -> float:
        # `if b > m: m = b` is what max() does, item by item, without its call (hot path).
        a, st = self.cells, self.stats
        sigma = scale
        if (b := a[_PEAK + int(t // 3600.0) % 24] / _peak_z(self.p.step)) > sigma:
            sigma = b
        if (b := 0.3 * st.residual_scale) > sigma:
            sigma = b
        if (b := 1e-6 * (abs(expected) + 1e-6)) > sigma:
            sigma = b
        # Recurring spikes (a job at the top of every hour) are part of normal: sigma is at
        # least what makes the usual tail of residuals 2.33 sigmas, as it is for normal noise.
        if (b := st.tail / TAIL_Z) > sigma:
            sigma = b
        noise = self.p.noise
        floor = noise_floor(noise, expected, n, st.event_unit)
        if floor > 0.0 and noise != "binomial":
            # overdispersion: events come in bursts
            floor *= math.sqrt(max(st.dispersion, 1.0))
            # On/off activity: whether the key is active in this window is itself uncertain,
            # so a window at the key's usual active level is no spike (sd of the mixture).
            if (b := 0.5 * st.active_level) > floor:
                floor = b
        return floor if floor > sigma else sigma

    def residual_z(self, x: float, t: float, n: int = 0) -> tuple[float, float, float]:
        """(signed z, expected, sigma) of x at time t."""
        expected, scale = self._expect(t)
        sigma = self._sigma(expected, scale, n, t)
        return (x - expected) / sigma, expected, sigma

    def _idle(self, x: float, n: int) -> bool:
        """A window without events of a key that has been active: for an upward detector it
        says nothing about how high the key goes when it works, so it is neither scored nor
        learned (a person's idle hours would otherwise make any session look like a spike)."""
        return (
            x == 0.0 and n == 0 and ignores_empty_windows(self.p) and self.stats.active_level > 0.0
        )

    @property
    def active(self) -> bool:
        """Whether the key has had a window with activity (so its empty windows are idle)."""
        return self.stats.active_level > 0.0

    def score_one(self, x: float, t: float, n: int = 0) -> float:
        return unrepeated(self._score(x, t, n), self.quiet, (x, t, n))

    def score_in_alert(self, x: float, t: float, n: int = 0) -> float:
        return self._score(x, t, n)

    def _score(self, x: float, t: float, n: int) -> float:
        """The score before repeats are suppressed."""
        if self.stats.points < self.p.min_points or (x == 0.0 and self._idle(x, n)):
            return 0.0
        if self.p.transform == "log":
            x = log_scale(x)
        z, _, _ = self.residual_z(x, t, n)
        return deviation_score(directed(z, self.p.direction), self.p.z)

    def describe(self, x: float, t: float, n: int = 0) -> dict[str, Any]:
        log = self.p.transform == "log"
        z, expected, sigma = self.residual_z(log_scale(x) if log else x, t, n)
        return {
            "value": x,
            "expected": round(math.expm1(expected) if log else expected, 6),
            "log_sigma" if log else "sigma": round(sigma, 6),
            "z": round(z, 3),
        }

    def learn_one(self, x: float, t: float, n: int = 0) -> None:
        """Teach one window's point: what an event and an active window are worth, then
        (from the second point on) the outlier run and clip, the global location, the tails,
        the level offset, the spread, and the point's hour of the week."""
        st, p = self.stats, self.p
        raw = x
        if p.transform == "log":
            x = log_scale(x)
        if x == 0.0 and self._idle(x, n):
            return
        if self.quiet is not None:
            remember_scored(self.quiet, (raw, t, n), lambda: self._score(raw, t, n))
        self._learn_activity(x, n)
        points = st.points + 1.0
        st.points = points
        if points == 1.0:
            self._learn_first(x, t)
            return
        expected, scale = self._expect(t)
        sigma = self._sigma(expected, scale, n, t)
        learning = points <= p.min_points
        clip = self._outlier_clip(x, expected, sigma, learning)
        g_alpha = max(1.0 / points, 0.01)
        st.loc, st.scale = robust_step(st.loc, st.scale, x, g_alpha, clip, sigma)
        size = abs(x - expected)
        self._learn_tails(size, t)
        self._learn_level(x, expected, clip * sigma, learning)
        clipped = size if clip == math.inf else min(size, clip * sigma)
        self._learn_spread(size, expected, n, g_alpha, clipped)
        self._learn_cell(x, t, expected, scale, math.inf if learning else p.clip)

    def _learn_activity(self, x: float, n: int) -> None:
        """The mean value of one event (compound noise) and the upper level of an active
        window (event counts and sums)."""
        st, noise = self.stats, self.p.noise
        if n > 0 and x > 0.0 and noise == "compound":
            unit = st.event_unit
            st.event_unit = x / n if unit <= 0.0 else unit + 0.02 * (x / n - unit)
        if x > 0.0 and noise in ("poisson", "compound"):
            # The upper level of an active window: rises faster than it falls (an upper
            # quantile of busy windows), capped so that a spike barely moves it.
            act = st.active_level
            step = 0.2 if x > act else 0.05
            st.active_level = x if act <= 0.0 else act + step * (min(x, 3.0 * act) - act)

    def _learn_first(self, x: float, t: float) -> None:
        """The first point is the location, of the key and of its hour, with no spread yet."""
        st = self.stats
        st.first_hour = float(int(t // 3600.0))
        st.loc = x
        st.scale = 0.0
        st.residual_scale = 0.0
        self._learn_cell(x, t, x, 0.0, clip=math.inf)

    def _outlier_clip(self, x: float, expected: float, sigma: float, learning: bool) -> float:
        """The clip for learning this point (none while learning, nor once a run of outliers
        is accepted as a shift), then the run of outliers counted on."""
        st, p = self.stats, self.p
        clip = math.inf if learning or st.outlier_run >= p.adapt_after else p.clip
        if abs(x - expected) > p.clip * sigma and not learning:
            st.outlier_run = st.outlier_run + 1.0
        else:
            st.outlier_run = 0.0
        return clip

    def _learn_tails(self, size: float, t: float) -> None:
        """The tail of residual sizes, unclipped (it must see the spikes that are usual), by a
        multiplicative stochastic-approximation step towards the 98th percentile, and the
        hour's peak; a run of outliers past its second point is a change or an incident,
        not a recurring spike."""
        st = self.stats
        hour = float(int(t // 3600.0))
        if hour != st.hour:
            self._close_hour()
            st.hour, st.hour_peak = hour, 0.0
        if st.outlier_run <= 2.0:
            st.tail = tail_step(st.tail, size)
        if st.outlier_run <= 1.0 and size > st.hour_peak:  # an isolated spike, or the usual noise
            st.hour_peak = size

    def _learn_level(self, x: float, expected: float, bound: float, learning: bool) -> None:
        """The level offset: the recent mean of residuals from the profile, clipped to
        `bound`; a shift accepted as the new normal moves the level (over `adapt_after`
        points), not the hours of the week that happened to see it."""
        st, p = self.stats, self.p
        r = x - (expected - st.level)
        r = bound if r > bound else (-bound if r < -bound else r)
        rate = _level_alpha(p.step)
        if st.outlier_run >= p.adapt_after and not learning:
            rate = max(rate, 1.0 / p.adapt_after)
        st.level = st.level + rate * (r - st.level)

    def _learn_spread(
        self, size: float, expected: float, events: int, g_alpha: float, clipped: float
    ) -> None:
        """The typical size of residuals (`clipped`: the residual's size, clipped) and the
        overdispersion of event counts (events come in sessions)."""
        st, p = self.stats, self.p
        st.residual_scale = st.residual_scale + g_alpha * (
            MAD_TO_SIGMA * clipped - st.residual_scale
        )
        base = noise_floor(p.noise, expected, events, st.event_unit)
        if base > 0.0 and p.noise != "binomial":
            d = min((size / base) ** 2, 100.0)
            st.dispersion = st.dispersion + g_alpha * (d - st.dispersion)

    def _close_hour(self) -> None:
        """Fold the hour just ended into the usual peak of its hour of the day."""
        a, st = self.cells, self.stats
        if st.hour < 0.0:
            return
        i = _PEAK + int(st.hour) % 24
        peak = a[i]
        a[i] = st.hour_peak if peak != peak else peak + _PEAK_ALPHA * (st.hour_peak - peak)

    def _learn_cell(self, x: float, t: float, expected: float, scale: float, clip: float) -> None:
        a, st = self.cells, self.stats
        b = (int(t // 3600.0) + _EPOCH_MONDAY_SHIFT) % _CELLS
        si = _scale_index(b)
        cell_scale = a[si]
        if cell_scale != cell_scale:
            cell_scale = scale if scale == scale else 0.0
        loc = a[b]
        if loc != loc:  # first visit: the point itself is the best guess for its hour
            a[b] = x
            a[si] = cell_scale
            return
        floor = max(0.3 * st.residual_scale, 1e-9)
        alpha = _cell_alpha(self.p.step)
        a[b], _ = robust_step(loc, cell_scale, x, alpha, clip, floor)
        # sigma is the spread of what is predicted (profile plus level), not of the profile
        r = abs(x - expected)
        bound = clip * (cell_scale if cell_scale > floor else floor)
        a[si] = cell_scale + alpha * (MAD_TO_SIGMA * (r if r < bound else bound) - cell_scale)

    @classmethod
    def skips_empty_windows(cls, params: SeasonalParams) -> bool:
        return ignores_empty_windows(params)
