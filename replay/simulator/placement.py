"""Where an injected incident can go: seeded times in someone's local working hours, in range.

An incident listed in the truth file must really happen in the data, so a start is only ever
chosen where the whole incident fits in the simulated range and clear of the windows in which its
group sends nothing (a silenced team). Within that, the choice prefers the group's weekday working
hours, spaced out from the other incidents; a range with no such time (a weekend, a few late
hours) gets an after-hours incident instead, unless the caller asks for working time only (a
team cannot go quiet in hours it does not work anyway). `after_history` tells where, in a long
range, the incidents that detectors can only see against a learned baseline may begin.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from replay.simulator.workday import DAY_S, US, weekday

MINUTE = 60 * US
HOUR = 60 * MINUTE
SPACING = 30 * MINUTE
# Local hours that still count as someone's day when their preferred hours are not in range.
DAYTIME = (8.0, 20.0)

# A range this long gives online detectors history before the incidents they need one for.
LONG_RANGE_DAYS = 4
HISTORY_DAYS = 2

Window = tuple[int, int]


def after_history(lo: int, hi: int) -> int | None:
    """Where incidents seen only against a learned baseline may start in [lo, hi) µs.

    None for a short range (anywhere goes). In a long one: after two whole weekdays of history
    (UTC days, midnight to midnight), or else two days after `lo`, whichever leaves two weekdays
    for the incidents (one if none leaves two); None again if neither leaves any.
    """
    day_us = DAY_S * US
    if hi - lo < LONG_RANGE_DAYS * day_us:
        return None

    def weekdays_from(start: int) -> int:
        """Weekdays with at least half of them in [start, hi)."""
        days = range(start // day_us, (hi - 1) // day_us + 1)
        half = day_us // 2
        return sum(
            weekday(d) < 5 and min(hi, (d + 1) * day_us) - max(start, d * day_us) >= half
            for d in days
        )

    starts = []
    day, seen = -(-lo // day_us), 0  # the first whole day of the range
    while seen < HISTORY_DAYS and (day + 1) * day_us <= hi:
        seen += weekday(day) < 5
        day += 1
    if seen == HISTORY_DAYS:
        starts.append(day * day_us)
    starts.append(lo + HISTORY_DAYS * day_us)
    for enough in (2, 1):
        for start in starts:
            if weekdays_from(start) >= enough:
                return start
    return None


def _overlaps(t: int, end: int, windows: Sequence[Window], margin: int = 0) -> bool:
    return any(t < b + margin and a < end + margin for a, b in windows)


class Calendar:
    """Seeded choice of start times (µs) within [lo, hi), in someone's local clock."""

    def __init__(self, rng: random.Random, lo: int, hi: int) -> None:
        self.rng, self.lo, self.hi = rng, lo, hi
        day_us = DAY_S * US
        days = [d for d in range(lo // day_us, hi // day_us + 1) if d * day_us < hi]
        self.true_weekdays = [d for d in days if weekday(d) < 5]
        self.weekdays = self.true_weekdays or days  # days to spread incidents over

    def pick(
        self,
        offset_s: int,
        length: int,
        hours: tuple[float, float],
        *,
        prefer_day: int | None = None,
        busy: Sequence[Window] = (),
        avoid: Sequence[Window] = (),
        within: Window | None = None,
        working_only: bool = False,
    ) -> int | None:
        """A minute-aligned start t with [t, t + length] inside `within` (default: the range).

        `hours` bounds the local start hour on a weekday; `busy` windows are kept `SPACING` apart
        where possible, `avoid` windows are never touched. None when nothing fits (with
        `working_only`: when the range holds no weekday start in `hours`).
        """
        lo, hi = within or (self.lo, self.hi)
        found = self._draw(offset_s, length, hours, prefer_day, busy, avoid, lo, hi)
        if found is None:
            found = self._scan(offset_s, length, hours, busy, avoid, lo, hi, working_only)
        return found

    def _draw(
        self,
        offset_s: int,
        length: int,
        hours: tuple[float, float],
        prefer_day: int | None,
        busy: Sequence[Window],
        avoid: Sequence[Window],
        lo: int,
        hi: int,
    ) -> int | None:
        """Random weekday times in `hours`: the usual case, cheap and well spread."""
        rng, spacing = self.rng, SPACING
        if not self.true_weekdays:
            return None
        for attempt in range(450):
            if attempt and attempt % 150 == 0:
                spacing //= 2  # a crowded range: relax the spacing rather than fail
            day = prefer_day if prefer_day is not None and attempt < 60 else None
            day = day if day is not None else rng.choice(self.true_weekdays)
            t = (day * DAY_S - offset_s) * US + int(rng.uniform(*hours) * 3600) * US
            t -= t % MINUTE
            if t < lo or t + length > hi:
                continue
            if _overlaps(t, t + length, avoid) or _overlaps(t, t + length, busy, spacing):
                continue
            return t
        return None

    def _scan(
        self,
        offset_s: int,
        length: int,
        hours: tuple[float, float],
        busy: Sequence[Window],
        avoid: Sequence[Window],
        lo: int,
        hi: int,
        working_only: bool,
    ) -> int | None:
        """Every minute that fits, best kind first: for short, odd or crowded ranges."""
        first = -(-lo // MINUTE) * MINUTE
        free = [
            t for t in range(first, hi - length + 1, MINUTE) if not _overlaps(t, t + length, avoid)
        ]

        def local(t: int) -> tuple[bool, float]:
            s = t // US + offset_s
            return weekday(s // DAY_S) < 5, s % DAY_S / 3600

        def working(t: int) -> bool:
            is_weekday, hour = local(t)
            return is_weekday and hours[0] <= hour <= hours[1]

        def daytime(t: int) -> bool:
            return DAYTIME[0] <= local(t)[1] <= DAYTIME[1] - length / HOUR

        kinds = [working] if working_only else [working, daytime, lambda t: True]
        for fits in kinds:
            for margin in (SPACING, 0):
                good = [t for t in free if fits(t) and not _overlaps(t, t + length, busy, margin)]
                if good:
                    return self.rng.choice(good)
        if working_only:
            return None
        return self.rng.choice(free) if free else None  # overlapping other incidents at worst
