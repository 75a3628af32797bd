"""Range checks on decoded events: values that would poison state never enter it.

A value that no well-behaved exporter sends (an integer beyond OTLP's signed 64 bits, a NaN or
an infinity, a time before 2000 or far in the future) is not a measurement: fed to a detector it
overflows, and as event time it moves the watermark past every open window. Such an event is
refused whole with a reason, where it arrives: the live receivers answer with it (OTLP's partial
success when other events of the request are good) and count it against its sender, replay
counts it as a bad line with its file and line.

Time bounds (`TimeBounds`, from the `stream` settings, the same live and in replay): not before
`stream.earliest` (2000-01-01T00:00:00Z: 1970 and negative times are a clock or a unit gone
wrong), and not more than `stream.max_future` seconds (300) after this machine's clock: the
receiver's when the event arrives, the replaying machine's for history.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.timeutil import iso

if TYPE_CHECKING:
    from engine.config import StreamConfig

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
EARLIEST = 946684800.0  # 2000-01-01T00:00:00Z
MAX_FUTURE = 300.0  # seconds an event time may be ahead of this machine's clock
MAX_REASONS = 3  # reasons quoted in one answer; the count says how many more


def seconds(ns: int, scale: float = 1e9) -> float:
    """Nanoseconds (any size, as OTLP/JSON may spell them) -> seconds; ±inf past a double."""
    try:
        return ns / scale
    except OverflowError:
        return math.inf if ns > 0 else -math.inf


def _when(t: float) -> str:
    try:
        return iso(t)
    except (ValueError, OverflowError, OSError):
        return f"{t:.0f} s after 1970" if math.isfinite(t) else "beyond any date"


def _digits(value: int) -> int:
    try:
        return len(str(abs(value)))
    except ValueError:  # past Python's limit on int -> str conversion
        return int(abs(value).bit_length() * math.log10(2)) + 1


def _value_problem(key: str, value: Any) -> str | None:
    kind = type(value)
    if kind is int:
        if INT64_MIN <= value <= INT64_MAX:
            return None
        return f"{key} is an integer of {_digits(value)} digits, beyond the signed 64-bit range"
    if kind is float:
        return None if value - value == 0.0 else f"{key} is {value}, not a finite number"
    if kind is list:
        for item in value:
            problem = _value_problem(f"{key}[]", item)
            if problem is not None:
                return problem
    return None


def _describe(event: dict[str, Any]) -> str:
    name = event.get("name")
    kind = "span" if event.get("kind") == "span" else "log record"
    return f"{kind} {name!r}" if isinstance(name, str) and name else kind


@dataclass(frozen=True, slots=True)
class TimeBounds:
    """Event times that may enter state: from `earliest` to `max_future` after the clock."""

    earliest: float = EARLIEST
    max_future: float = MAX_FUTURE

    @classmethod
    def of(cls, stream: StreamConfig) -> TimeBounds:
        """The bounds a `stream` configuration section sets."""
        return cls(stream.earliest, stream.max_future)


def _time_problem(t: Any, bounds: TimeBounds, latest: float) -> str | None:
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        return "its time is not a finite number of seconds"
    if t < bounds.earliest:
        return f"its time {_when(t)} is before {_when(bounds.earliest)} (stream.earliest)"
    if t > latest:
        return (
            f"its time {_when(t)} is more than {bounds.max_future:g} s after this machine's "
            f"clock (stream.max_future)"
        )
    return None


def event_problem(
    event: dict[str, Any], bounds: TimeBounds, now: float, *, latest: float | None = None
) -> str | None:
    """Why `event` must not enter state (its time out of `bounds` at `now`, a poison value).

    `latest`: `now + bounds.max_future`, when the caller has it already.
    """
    if latest is None:
        latest = now + bounds.max_future
    t = event.get("time")
    if type(t) is not float or not bounds.earliest <= t <= latest:
        reason = _time_problem(t, bounds, latest)
        if reason is not None:
            return f"{_describe(event)}: {reason}"
    for value in event.values():  # the common kinds settled inline: this runs for every event
        kind = type(value)
        if kind is str or value is None or kind is bool:
            continue
        if kind is float:
            if value - value == 0.0:
                continue
        elif kind is int:
            if INT64_MIN <= value <= INT64_MAX:
                continue
        elif kind is not list:
            continue
        for key, suspect in event.items():
            problem = _value_problem(key, suspect)
            if problem is not None:
                return f"{_describe(event)}: {problem}"
    return None


def split(
    events: Iterable[dict[str, Any]], bounds: TimeBounds, now: float
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    """The events fit to enter state, and each other one with the reason it is not."""
    latest = now + bounds.max_future
    good: list[dict[str, Any]] = []
    refused: list[tuple[dict[str, Any], str]] = []
    for event in events:
        problem = event_problem(event, bounds, now, latest=latest)
        if problem is None:
            good.append(event)
        else:
            refused.append((event, problem))
    return good, refused


def screen(
    events: Iterable[dict[str, Any]], bounds: TimeBounds, now: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """The events fit to enter state, and a reason for each refused one."""
    good, refused = split(events, bounds, now)
    return good, [reason for _, reason in refused]


def summary(refused: list[str], total: int, what: str) -> str:
    """One line for an answer: how many of `total` were refused, and the first reasons."""
    shown = "; ".join(refused[:MAX_REASONS])
    more = len(refused) - MAX_REASONS
    tail = f"; and {more} more" if more > 0 else ""
    return f"{len(refused)} of {total} {what} refused: {shown}{tail}"
