"""A progress line for long commands (replay's sort and dataflow passes, simulate).

One line on stderr, redrawn in place at most `interval` seconds apart: the stage, events so
far, their rate, how far through the stage (bytes read, events replayed, days simulated) and
the time left at the rate so far. Drawn only on a terminal: a pipe, a file or a CI log gets
nothing, nor does `--quiet`. `close()` wipes the line, so the summary that follows starts on
a clean one.

>>> import io
>>> out, t = io.StringIO(), iter([0.0, 0.0, 10.0, 10.0])
>>> p = Progress(out, enabled=True, clock=lambda: next(t), width=200)
>>> p.stage("reading", total=100 * MB, unit="bytes")
>>> p.update(25 * MB, events=50_000, force=True)
>>> out.getvalue().split("\\r")[-1].rstrip("\\x1b[K")
'reading: 50,000 events · 5,000 events/s · 25/100 MB · ETA 0:30'
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TextIO

MB = 1 << 20
CLEAR = "\x1b[K"  # erase to the end of the line
MAX_ETA = 100 * 86400.0  # longer is no estimate


class Progress:
    def __init__(
        self,
        stream: TextIO,
        *,
        enabled: bool | None = None,
        interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
    ) -> None:
        """`enabled`: draw at all (default: when `stream` is a terminal)."""
        self.stream = stream
        self.enabled = _is_terminal(stream) if enabled is None else enabled
        self.interval = interval
        self.clock = clock
        self.width = width
        self.name, self.unit = "", "events"
        self.total: float | None = None
        self.started = self.drawn = 0.0
        self.shown = False

    def stage(self, name: str, total: float | None = None, unit: str = "events") -> None:
        """Start a stage: `total` in `unit` (bytes, events, days) or None when unknown."""
        if not self.enabled:
            return
        self.name, self.total, self.unit = name, total, unit
        self.started = self.clock()
        self.drawn = -float("inf")
        self.update(0, 0, force=True)

    def update(self, done: float, events: int, *, force: bool = False) -> None:
        """`done`: how far through the stage, in its unit; `events`: events so far. Drawn when
        `force`d, at the end of the stage, or `interval` after the last drawing."""
        if not self.enabled:
            return
        now = self.clock()
        finished = self.total is not None and done >= self.total
        if not (force or finished) and now - self.drawn < self.interval:
            return
        self.drawn = now
        self._draw(self.line(done, events, now - self.started))

    def line(self, done: float, events: int, elapsed: float) -> str:
        parts = [f"{self.name}: {events:,} events"]
        if elapsed > 0 and events:
            parts.append(f"{events / elapsed:,.0f} events/s")
        if self.total:
            parts.append(_amount(done, self.total, self.unit))
            left = elapsed * (self.total - done) / done if 0 < done < self.total else 0.0
            if 0 < left < MAX_ETA:  # none until there is a rate to go by
                parts.append("ETA " + _clock(left))
        return " · ".join(parts)

    def close(self) -> None:
        if self.enabled and self.shown:
            self.stream.write("\r" + CLEAR)
            self.stream.flush()
            self.shown = False

    def _draw(self, text: str) -> None:
        width = self.width or _columns(self.stream)
        self.stream.write("\r" + text[: max(width - 1, 10)] + CLEAR)
        self.stream.flush()
        self.shown = True


def _amount(done: float, total: float, unit: str) -> str:
    if unit == "bytes":
        return f"{done / MB:,.0f}/{total / MB:,.0f} MB"
    return f"{done:,.0f}/{total:,.0f} {unit}"


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, OSError, ValueError):
        return 80
