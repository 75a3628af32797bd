"""Durations as people write them in configuration (`30s`, `5m`, `1h30m`, `2d`), in seconds.

The same grammar as Alertmanager's durations so that a pasted route keeps meaning what it meant.
"""

from __future__ import annotations

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_ORDER = ("w", "d", "h", "m", "s", "ms")


def parse_duration(value: str | float | int) -> float:
    """Seconds from a number (already seconds) or a string such as `1h30m`; never negative."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative: {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"not a duration: {value!r} (write e.g. 30s, 5m, 1h30m)")
    text = value.strip()
    if not text:
        raise ValueError("empty duration (write e.g. 30s, 5m, 1h30m)")
    total, i = 0.0, 0
    seen: list[str] = []
    while i < len(text):
        j = i
        while j < len(text) and text[j].isdigit():
            j += 1
        if j == i:
            raise ValueError(f"not a duration: {value!r} (write e.g. 30s, 5m, 1h30m)")
        number = int(text[i:j])
        k = j
        while k < len(text) and text[k].isalpha():
            k += 1
        unit = text[j:k]
        if unit not in _UNITS:
            raise ValueError(f"not a duration: {value!r}: unknown unit {unit!r} (use ms s m h d w)")
        if seen and _ORDER.index(unit) <= _ORDER.index(seen[-1]):
            raise ValueError(f"not a duration: {value!r}: units must go from largest to smallest")
        seen.append(unit)
        total += number * _UNITS[unit]
        i = k
    return total


def format_duration(seconds: float) -> str:
    """The shortest `1h30m`-style spelling of a whole number of seconds (else `1.5s`)."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    rest = int(seconds)
    if rest == 0:
        return "0s"
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        size = int(_UNITS[unit])
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts)
