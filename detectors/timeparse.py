"""Event-time parsing and durations (a copy of engine.timeutil's helpers: no engine import here)."""

from __future__ import annotations

import datetime as _dt
import math

_UTC = _dt.UTC
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def iso(t: float) -> str:
    """RFC 3339 in UTC with a `Z`: whole seconds when exact, else milliseconds."""
    whole = int(t // 1)
    millis = round((t - whole) * 1000)
    if millis == 1000:
        whole, millis = whole + 1, 0
    base = _dt.datetime.fromtimestamp(whole, _UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}Z" if millis == 0 else f"{base}.{millis:03d}Z"


def parse_time(value: str | float | int) -> float:
    """Seconds since the epoch from a number or an RFC 3339 / ISO 8601 string (naive means UTC)."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"not a time: {value!r}")
        return float(value)
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(number):
            raise ValueError(f"not a time: {value!r}")
        return number
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
    """Seconds from a number of seconds or a text like `90s`, `5m`, `1h30m`, `7d`."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            seconds = _parse_units(text, value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration: {value!r} (use e.g. 300, 5m, 1h, 7d)")
    return seconds


def _parse_units(text: str, original: object) -> float:
    total, number, i, seen = 0.0, "", 0, False
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else ch
        if not number or unit not in _UNITS:
            raise ValueError(f"not a duration: {original!r} (use e.g. 300, 5m, 1h, 7d)")
        total += float(number) * _UNITS[unit]
        number, seen = "", True
        i += len(unit)
    if number or not seen:
        raise ValueError(f"not a duration: {original!r} (use e.g. 300, 5m, 1h, 7d)")
    return total
