"""RFC 3339 helpers and durations (copied from engine/timeutil.py: rules imports no other package)."""

from __future__ import annotations

import datetime as _dt
import functools

_UTC = _dt.UTC

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def iso(t: float) -> str:
    """RFC 3339 in UTC with a `Z`: whole seconds when exact, else milliseconds."""
    whole = int(t // 1)
    millis = round((t - whole) * 1000)
    if millis == 1000:
        whole, millis = whole + 1, 0
    base = _second(whole)
    return f"{base}Z" if millis == 0 else f"{base}.{millis:03d}Z"


@functools.lru_cache(maxsize=256)
def _second(whole: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS` of a whole second (events in time order ask for few of them)."""
    day, second = divmod(whole, 86400)
    minute, second = divmod(second, 60)
    hour, minute = divmod(minute, 60)
    return f"{_date(day)}T{hour:02d}:{minute:02d}:{second:02d}"


@functools.lru_cache(maxsize=64)
def _date(day: int) -> str:
    """The date of a day since the epoch.

    Raises as `datetime.fromtimestamp` does for a time it cannot represent: days start and
    end inside its range together.
    """
    return _dt.datetime.fromtimestamp(day * 86400, _UTC).strftime("%Y-%m-%d")


def parse_time(value: str | float | int) -> float:
    """Seconds since the epoch from a number or an RFC 3339 / ISO 8601 string (naive means UTC)."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = _dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            f"not a time: {value!r} (use RFC 3339, e.g. 2026-11-28T03:04:05Z)"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_UTC)
    return parsed.timestamp()


def parse_duration(value: str | float | int) -> float:
    """Seconds from a number or a span like `90s`, `30m`, `1h`, `2d`, `1w`."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"duration must not be negative: {value!r}")
        return float(value)
    text = str(value).strip()
    if text and text[-1] in _UNIT_SECONDS and text[:-1].isdigit():
        return float(int(text[:-1]) * _UNIT_SECONDS[text[-1]])
    raise ValueError(f"not a duration: {value!r} (use seconds or e.g. 30m, 1h, 2d)")
