"""Forecasting a rate online: damped Holt on a deseasonalised level, with a daily profile.

Usage of a shared resource (tokens or requests per minute against a quota) has a strong daily
shape (office hours, often in several time zones), a weekly one (quiet weekends), and now and
then a trend (a team onboarding, an agent workflow spreading). A forecast that mistakes the
morning rise for a trend warns every morning; one without a trend never warns ahead. So:

    x(t) = (level + trend) * day(t) * hour(t) + noise

`hour` is a profile of the day in `slots` slots (UTC) and `day` a factor per weekday, both
with mean 1 and learned as ratios of the usage to its slow daily mean, from the first day on (a flat
shape is the prior, worth one day: one day alone cannot tell a daily shape from a trend). `level` and
`trend` are Gardner and McKenzie's damped Holt on the deseasonalised series: the trend
extrapolated `h` steps ahead adds trend * (phi + phi^2 + ... + phi^h), so a rise is projected
to level off rather than run away. A point in an hour that usually sees a tenth of the day's
mean rate moves the level a tenth as much (its ratio to a small profile is mostly noise), and
innovations are clipped to a few robust scales so that one burst moves nothing much.

State is a fixed number of floats per key: the profile, the weekday factors and a handful of
scalars. Everything is in event time.

>>> f = SeasonalHolt(ForecastParams(step=60.0))
>>> days = 3 * 1440  # three flat days, a minute a point
>>> for i in range(days):
...     f.learn_one(100.0, i * 60.0)
>>> round(f.forecast(days * 60.0, 30)[-1])
100
>>> for i in range(days, days + 100):  # then rising by 1 a minute, to 200
...     f.learn_one(100.0 + (i - days), i * 60.0)
>>> f.forecast((days + 100) * 60.0, 30)[0] > 200.0
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from detectors.persist import restore_slots
from detectors.scoring import MAD_TO_SIGMA

DAY = 86400.0
WEEK = 7 * DAY
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)
FLOOR = 0.02  # the smallest profile factor a ratio is taken against


def half_life_rate(step: float, half_life: float) -> float:
    """The per-step weight of the newest value that halves an old one's weight in `half_life`."""
    if half_life <= 0.0:
        return 1.0
    kept: float = 0.5 ** (step / half_life)
    return 1.0 - kept


@dataclass(frozen=True)
class ForecastParams:
    """step: seconds per point. level_half_life, trend_half_life: how fast the level and the
    trend follow the data. damping: the half-life of the trend projected into the future (the
    projected rise levels off). slots: resolution of the daily profile. profile_half_life: how
    fast the daily and weekly shapes adapt. clip: innovations are clipped to this many robust
    scales before they move the level.
    """

    step: float = 60.0
    level_half_life: float = 600.0
    trend_half_life: float = 1800.0
    damping: float = 3600.0
    slots: int = 96
    profile_half_life: float = 14 * DAY
    clip: float = 5.0
    shape_prior: float = 1.0


class SeasonalHolt:
    """A damped-trend forecast of a rate per step, seasonal by hour of day and day of week."""

    __slots__ = (
        "daily",
        "hour",
        "hour_n",
        "hour_sum",
        "level",
        "n",
        "p",
        "scale",
        "t0",
        "trend",
        "week",
        "week_n",
        "week_sum",
    )

    def __init__(self, params: ForecastParams | None = None) -> None:
        self.p = params or ForecastParams()
        self.level = 0.0
        self.trend = 0.0
        self.scale = 0.0  # robust scale of the innovations (in usage units)
        self.daily = 0.0  # slow mean of the rate (the profiles' reference)
        self.hour = [1.0] * self.p.slots
        self.hour_n = [0] * self.p.slots
        self.hour_sum = float(self.p.slots)
        self.week = [1.0] * 7
        self.week_n = [0] * 7
        self.week_sum = 7.0
        self.n = 0
        self.t0: float | None = None

    __setstate__ = restore_slots

    # -- the seasonal shape --------------------------------------------------------------

    def _slot(self, t: float) -> int:
        return int((t % DAY) // (DAY / self.p.slots)) % self.p.slots

    @staticmethod
    def _weekday(t: float) -> int:
        return (int(t // DAY) + EPOCH_WEEKDAY) % 7

    def season(self, t: float) -> float:
        """The expected share of the mean rate at time t (1 = an average moment)."""
        hours = self.hour_sum / self.p.slots
        days = self.week_sum / 7.0
        # a slot's factor with its neighbours' (1-2-1): a few days of counts make each slot
        # noisy, the peak of a projection would pick the noisiest, and time of day is smooth
        i, n = self._slot(t), self.p.slots
        near = (self.hour[i - 1] + 2.0 * self.hour[i] + self.hour[(i + 1) % n]) / 4.0
        h = near / hours if hours > 0.0 else 1.0
        d = self.week[self._weekday(t)] / days if days > 0.0 else 1.0
        return h * d

    # -- level and trend -----------------------------------------------------------------

    def _phi(self) -> float:
        return 0.5 ** (self.p.step / self.p.damping) if self.p.damping > 0.0 else 0.0

    def _next(self, x: float, t: float) -> tuple[float, float, float]:
        """(level, trend, scale) after the point x at t, the model itself unchanged."""
        if self.n == 0:
            s = max(self.season(t), FLOOR)
            return x / s, 0.0, 0.0
        p = self.p
        phi = self._phi()
        alpha = half_life_rate(p.step, p.level_half_life)
        beta = half_life_rate(p.step, p.trend_half_life)
        s = self.season(t)
        predicted = self.level + phi * self.trend
        error = x - max(s, 0.0) * predicted
        bound = p.clip * max(self.scale, 1.0, math.sqrt(abs(predicted * s)))
        clipped = min(max(error, -bound), bound)
        # A point in a quiet hour (s < 1) says less about the level: no division by s there.
        level = max(0.0, predicted + alpha * clipped / max(s, 1.0))
        trend = beta * (level - self.level) + (1.0 - beta) * phi * self.trend
        scale = self.scale + alpha * (MAD_TO_SIGMA * abs(clipped) - self.scale)
        return level, trend, scale

    # -- the verbs -----------------------------------------------------------------------

    def learn_one(self, x: float, t: float) -> None:
        """Take the point x (the rate in the step starting at t)."""
        if self.t0 is None:
            self.t0 = t
        self.level, self.trend, self.scale = self._next(x, t)
        self.n += 1
        self._learn_shape(x, t)

    def _learn_shape(self, x: float, t: float) -> None:
        """Move the profiles towards x's ratio to the slow daily mean: a running average (with
        the flat prior) until a slot has seen a half-life's worth, then exponential."""
        p = self.p
        n_day = 1.0 / half_life_rate(p.step, DAY)
        self.daily += (x - self.daily) / min(float(self.n), n_day)
        if self.daily <= 0.0:
            return
        ratio = min(x / self.daily, 100.0)
        slot, weekday = self._slot(t), self._weekday(t)
        per_slot = max(1.0, (DAY / p.slots) / p.step)
        slot_cap = per_slot * p.profile_half_life / DAY / math.log(2.0)
        self.hour_n[slot] += 1
        # A flat day is the prior, worth one day of the slot's points: one day cannot tell a
        # daily shape from a trend, so the first day moves the profile only half way.
        hour_rate = 1.0 / min(self.hour_n[slot] + p.shape_prior * per_slot, max(slot_cap, 1.0))
        weekday_share = ratio / max(self.hour[slot] / (self.hour_sum / p.slots), FLOOR)
        moved = hour_rate * (ratio - self.hour[slot])
        self.hour[slot] += moved
        self.hour_sum += moved
        per_day = DAY / p.step
        day_cap = per_day * p.profile_half_life / WEEK / math.log(2.0)
        self.week_n[weekday] += 1
        day_rate = 1.0 / min(self.week_n[weekday] + p.shape_prior * per_day, max(day_cap, 1.0))
        moved = day_rate * (min(weekday_share, 100.0) - self.week[weekday])
        self.week[weekday] += moved
        self.week_sum += moved

    def forecast(self, t: float, steps: int, x: float | None = None) -> list[float]:
        """The expected rate of the `steps` steps after the one starting at t; with `x`, as if
        x had been learned for that step first (without learning it)."""
        level, trend = self.level, self.trend
        if x is not None:
            level, trend, _ = self._next(x, t)
        phi = self._phi()
        out = []
        damped = 0.0
        weight = 1.0
        for k in range(1, steps + 1):
            weight *= phi
            damped += weight
            out.append(max(0.0, (level + trend * damped) * self.season(t + k * self.p.step)))
        return out

    def ceiling(self, t: float, steps: int, x: float) -> float:
        """An upper bound of `max(forecast(t, steps, x))`, in a few operations."""
        level, trend, _ = self._next(x, t)
        phi = self._phi()
        reach = steps if phi >= 1.0 else phi * (1.0 - phi**steps) / (1.0 - phi)
        hours = self.hour_sum / self.p.slots
        days = self.week_sum / 7.0
        if hours <= 0.0 or days <= 0.0:
            return math.inf
        season = max(self.hour) / hours * max(self.week) / days
        return max(0.0, level + max(0.0, trend) * reach) * season

    def spread(self) -> float:
        """The robust standard deviation of one step's rate around the forecast."""
        return self.scale

    def is_warm(self, t: float, warmup: float) -> bool:
        return self.t0 is not None and t - self.t0 >= warmup
