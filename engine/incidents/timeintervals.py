"""Named time intervals that mute or activate routes (weekends, office hours, maintenance).

The configuration format is Alertmanager's `time_intervals`: each named interval is a list of
specs; a spec matches when every field it sets matches (an unset field matches everything) and
a named interval is active when any of its specs matches. Times are evaluated in the spec's
`location` (an IANA zone, UTC when unset), so a "weekend" means the team's weekend.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import zoneinfo
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip


def _split(text: object, what: str) -> tuple[str, str]:
    if isinstance(text, int) and not isinstance(text, bool):
        return str(text), str(text)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"a {what} is a string like 'a' or 'a:b', not {text!r}")
    start, sep, end = text.strip().lower().partition(":")
    return start.strip(), (end.strip() if sep else start.strip())


def _named(value: str, names: tuple[str, ...], what: str, numbers: bool) -> int:
    if value in names:
        return names.index(value) + 1
    if numbers and value.isdigit() and 1 <= int(value) <= len(names):
        return int(value)
    raise ValueError(f"unknown {what} {value!r} (use {names[0]}..{names[-1]})")


def _weekday_range(text: object) -> tuple[int, int]:
    start, end = _split(text, "weekday range")
    first, last = (_named(v, WEEKDAYS, "weekday", numbers=False) for v in (start, end))
    if first > last:
        raise ValueError(f"weekday range {text!r} runs backwards (write e.g. monday:friday)")
    return first, last


def _month_range(text: object) -> tuple[int, int]:
    start, end = _split(text, "month range")
    first, last = (_named(v, MONTHS, "month", numbers=True) for v in (start, end))
    if first > last:
        raise ValueError(f"month range {text!r} runs backwards")
    return first, last


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a whole number") from None


def _day_range(text: object) -> tuple[int, int]:
    start, end = _split(text, "day-of-month range")
    first, last = _int(start, "day"), _int(end, "day")
    for day in (first, last):
        if day == 0 or not -31 <= day <= 31:
            raise ValueError(f"day {day} out of range (1..31, or -31..-1 counting from the end)")
    if (first > 0) == (last > 0) and first > last:
        raise ValueError(f"day-of-month range {text!r} runs backwards")
    return first, last


def _year_range(text: object) -> tuple[int, int]:
    start, end = _split(text, "year range")
    first, last = _int(start, "year"), _int(end, "year")
    if first > last:
        raise ValueError(f"year range {text!r} runs backwards")
    return first, last


def _clock_minutes(value: object) -> int:
    if not isinstance(value, str) or value.count(":") != 1:
        raise ValueError(f"a time of day is 'HH:MM', not {value!r}")
    hours, minutes = value.split(":")
    h, m = _int(hours, "hour"), _int(minutes, "minute")
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m != 0):
        raise ValueError(f"time of day {value!r} out of range (00:00..24:00)")
    return h * 60 + m


class TimeRange(BaseModel):
    """[start_time, end_time) within one day, in minutes after midnight."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    start_time: Annotated[int, BeforeValidator(_clock_minutes)] = Field(
        description="start of the range (included)"
    )
    end_time: Annotated[int, BeforeValidator(_clock_minutes)] = Field(
        description="end of the range (excluded; `24:00` is midnight)"
    )

    @field_validator("end_time")
    @classmethod
    def _after_start(cls, end: int, info: ValidationInfo) -> int:
        start = info.data.get("start_time")
        if start is not None and end <= start:
            raise ValueError("end_time must be after start_time")
        return end


@functools.lru_cache(maxsize=256)
def _zone(name: str) -> dt.tzinfo:
    return dt.UTC if name in ("UTC", "") else zoneinfo.ZoneInfo(name)


class TimeIntervalSpec(BaseModel):
    """One Alertmanager time interval spec."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    times: list[TimeRange] = Field([], description="times of day; empty: all day")
    weekdays: list[Annotated[tuple[int, int], BeforeValidator(_weekday_range)]] = Field(
        [], description="empty: every day of the week"
    )
    days_of_month: list[Annotated[tuple[int, int], BeforeValidator(_day_range)]] = Field(
        [], description="empty: every day of the month"
    )
    months: list[Annotated[tuple[int, int], BeforeValidator(_month_range)]] = Field(
        [], description="empty: every month"
    )
    years: list[Annotated[tuple[int, int], BeforeValidator(_year_range)]] = Field(
        [], description="empty: every year"
    )
    location: str = Field("UTC", description="IANA time zone the spec is read in")

    @field_validator("location")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        if name == "Local":
            raise ValueError("location 'Local' would make replays differ by machine; name a zone")
        try:
            _zone(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)"
            ) from None
        return name

    def contains(self, t: float) -> bool:
        """Whether event time `t` (epoch seconds) falls inside this spec."""
        local = dt.datetime.fromtimestamp(t, _zone(self.location))
        if self.times:
            minute = local.hour * 60 + local.minute
            if not any(r.start_time <= minute < r.end_time for r in self.times):
                return False
        if self.weekdays:
            day = local.isoweekday()
            if not any(a <= day <= b for a, b in self.weekdays):
                return False
        if self.days_of_month:
            length = calendar.monthrange(local.year, local.month)[1]
            if not any(_day_in(local.day, a, b, length) for a, b in self.days_of_month):
                return False
        if self.months and not any(a <= local.month <= b for a, b in self.months):
            return False
        return not self.years or any(a <= local.year <= b for a, b in self.years)


def _day_in(day: int, first: int, last: int, length: int) -> bool:
    start = first if first > 0 else length + first + 1
    end = last if last > 0 else length + last + 1
    return max(start, 1) <= day <= min(end, length)


class TimeInterval(BaseModel):
    """A named list of specs; active when any spec contains the time."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(description="what routes call the interval by")
    time_intervals: list[TimeIntervalSpec] = Field(
        [], description="specs; the interval is active when any of them holds"
    )

    def contains(self, t: float) -> bool:
        return any(spec.contains(t) for spec in self.time_intervals)
