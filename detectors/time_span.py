"""The windows of a time-ordered list within a span before a time, found by bisection.

A model that remembers its last windows (oldest first) asks, at every point it learns or
judges, which of them are within its span. A parent or root model learns every key's point,
so its list holds a window per key and step of the span, and a scan of that list per point
costs the square of the keys per window. The list is kept in time order (windows are learnt
as they close), so the windows within the span are one slice, found in logarithmic time.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence
from typing import Any


def span_bounds(windows: Sequence[tuple[Any, ...]], t: float, horizon: float) -> tuple[int, int]:
    """(lo, hi) such that `windows[lo:hi]` are the windows whose time (their first field)
    satisfies `0 < t - time <= horizon`, those before `lo` are older and those from `hi` on are
    at or after t. `windows` must be in time order; the tests are the very float comparisons
    of a scan, so the slice is the scan's, whatever the rounding."""
    lo = bisect_left(windows, True, key=lambda w: t - w[0] <= horizon)
    hi = bisect_left(windows, True, key=lambda w: not t - w[0] > 0.0)
    return lo, max(lo, hi)


def within(windows: list[Any], t: float, horizon: float) -> list[Any]:
    """The windows with `0 < t - time <= horizon`, in their order."""
    lo, hi = span_bounds(windows, t, horizon)
    return windows[lo:hi]


def split(windows: list[Any], t: float, horizon: float) -> tuple[list[Any], list[Any]]:
    """The windows within the span before t, and the rest, each in their order."""
    lo, hi = span_bounds(windows, t, horizon)
    return windows[lo:hi], windows[:lo] + windows[hi:]


def remember(windows: list[Any], window: tuple[Any, ...]) -> None:
    """Add a window, keeping the list in time order (one learnt out of order takes its place
    after the windows of the same time)."""
    if windows and window[0] < windows[-1][0]:
        insort(windows, window, key=_time)
    else:
        windows.append(window)


def _time(window: tuple[Any, ...]) -> Any:
    return window[0]
