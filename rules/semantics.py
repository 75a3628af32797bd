"""How one Sigma value compares with one event field: the rules both the compiler and the
reference interpreter in the tests follow, and the small coercions they share.

- Strings match case-insensitively (both sides `str.lower()`), `cased` makes them exact;
  `*` and `?` are wildcards. Integer and float fields are compared as their text; any other
  type (bool, list, dict, missing) never matches a string.
- Numbers match int/float fields of equal value and strings that parse as that number.
- Booleans match bool fields and the strings `true` / `false` (any case).
- `null` matches a missing field or a field that is None.
- `re` searches (unanchored, use `^`/`$` to anchor) with RE2; text as for strings.
- `gt`/`gte`/`lt`/`lte` compare numbers and numeric strings; anything else is false.
- `exists: true` means the key is present and not None.
- `fieldref` compares with another field of the same event (strings case-insensitively).
- `cidr` matches a string that is an IP address inside the network.
- `minute`..`year` read the field as event time (epoch seconds or RFC 3339), in UTC.
- Keywords (values without a field) match if any string field of the event matches them
  as a whole value (write `*word*` for a substring).
"""

from __future__ import annotations

import datetime as _dt
import math

from .timeutil import parse_time


def as_text(value: object) -> str | None:
    """The text a string matcher sees for a field value, or None if it cannot match."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return str(value)
        except ValueError:  # an int too long to print
            return None
    return None


def as_number(value: object) -> float | None:
    """The number a comparison sees for a field value, or None if it cannot compare."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            number = float(value.strip())
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def as_bool(value: object) -> bool | None:
    """The boolean a boolean matcher sees for a field value, or None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low == "true":
            return True
        if low == "false":
            return False
    return None


def time_part(value: object, part: str) -> int | None:
    """Minute/hour/day/week/month/year (UTC) of a time field, or None if it is not a time."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        seconds = parse_time(value if isinstance(value, str | int | float) else str(value))
        moment = _dt.datetime.fromtimestamp(seconds, _dt.UTC)
    except (ValueError, OverflowError, OSError, TypeError):
        return None
    if part == "MINUTE":
        return moment.minute
    if part == "HOUR":
        return moment.hour
    if part == "DAY":
        return moment.day
    if part == "WEEK":
        return moment.isocalendar().week
    if part == "MONTH":
        return moment.month
    return moment.year
