"""ISO weeks in UTC: the unit compliance is measured in."""

from __future__ import annotations

import datetime as _dt

WEEK = 7 * 86400.0
FIRST_MONDAY = 4 * 86400.0  # 1970-01-05, the first Monday after the epoch


def week_start(t: float) -> float:
    """Epoch seconds of the Monday 00:00 UTC starting t's week."""
    return ((t - FIRST_MONDAY) // WEEK) * WEEK + FIRST_MONDAY


def week_label(t: float) -> str:
    """`2026-W45`: the ISO year and week of t (UTC)."""
    year, week, _ = _dt.datetime.fromtimestamp(t, _dt.UTC).isocalendar()
    return f"{year}-W{week:02d}"
