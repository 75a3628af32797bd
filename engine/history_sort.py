"""Replay's first pass: every line of every file decoded, checked, and sorted by event time.

Replay has the whole history in hand, so it orders it itself instead of guessing how late a
record may be: every line of every file is decoded (a bad line is counted and reported with its
file and line, as always), each event is written as its canonical serialisation (JSON with
sorted keys) into an external sort (`replay.external_sort`) that holds at most a memory budget
and spills sorted runs to disk, and the dataflow then reads the merged runs in event-time order.
Nothing is ever late in replay.

The order is total and depends on the records alone: by event time, then by kind (see the
record tags below), then by the canonical bytes.
So any permutation of the lines, any split into files, plain or gzip, and any re-batching of the
same spans into requests give the same sequence, hence byte-identical incident logs. Since the
events the dataflow sees are read back from their canonical form, even the order of attributes
in the input does not show.

Control events (`--control`) are sorted into the same sequence at their own times; at the same
instant, spans come first, then log records and flat events, then control events.

Exact duplicates: an OTLP exporter that did not hear the answer to a request sends it again, so
history can hold the same span twice. Two spans with the same trace and span id and every other
field equal are one span: the second is dropped and counted as a duplicate (the dataflow does
that, as they arrive side by side). Log records and flat events carry no identity, so identical
ones are all kept: two equal `tool_result` events may well be two commands.

An event that must not enter state (`engine.otlp.event_checks`, the same checks as the live
receivers': a time before `stream.earliest`, such as 1970 or a negative time, or more than
`stream.max_future` after this machine's clock, such as year 9999; a non-finite float, an
integer beyond 64 bits) makes its line a bad line; the line's other events are kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from engine.flow.items import RunStats
from engine.flow.run_setup import RunSetup
from engine.incidents.control import ControlError, parse_control
from engine.otlp.event_checks import TimeBounds
from engine.otlp.line_decoder import DecodeError, decode_history_line
from replay.external_sort import ExternalSort
from replay.readers import HistoryError, HistoryFile, ReadPosition, read_lines, stored_size

# A progress display is told how far reading has got every this many lines.
PROGRESS_LINES = 4096
Progress = Callable[[int, int], None]  # (stored bytes read, events sorted)

# Record tags. At the same instant: spans, then other events, then control events. A span is the
# record of a call, and Claude Code's event about the same call often bears the very same time;
# rules that count a call once per session (`dedup`) must meet the span first whatever the
# records' bytes are.
SPAN = b"\x00"
EVENT = b"\x01"
CONTROL = b"\x02"


class StrictStop(Exception):
    """`--strict` and a bad line: its file:line and reason."""


@dataclass(frozen=True)
class HistoryPart:
    file: HistoryFile
    is_control: bool = False


@dataclass
class Share:
    """Which lines one reader of a first pass takes: every `count`-th line counted over all the
    files, from the `index`-th, so that `count` processes read a history together; and, for
    each bad line it reported, where the line lies in that count, to put the reports of every
    share back in the order one reader would have made them."""

    index: int = 0
    count: int = 1
    line: int = 0  # lines met so far, over all the files
    where: list[float] = field(default_factory=list)  # a line's count; an unreadable rest: +0.5

    def take(self) -> bool:
        """Whether the next line is this reader's."""
        self.line += 1
        return (self.line - 1) % self.count == self.index


def canonical(event: Mapping[str, Any]) -> bytes:
    """The event's canonical serialisation; ValueError when a value cannot be kept exactly."""
    try:
        return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:  # anything orjson cannot write (the range checks came first)
        raise ValueError(f"a value cannot be stored exactly ({exc})") from None


def sort_history(
    parts: Iterable[HistoryPart],
    setup: RunSetup,
    sorter: ExternalSort,
    *,
    strict: bool = False,
    now: Callable[[], float] = time.time,
    progress: Progress | None = None,
    share: Share | None = None,
) -> RunStats:
    """Decode every line of `parts` (or only `share`'s) into `sorter`; return the counters of
    what was read.

    Raises StrictStop at the first bad line when `strict`. `progress(bytes, events)` is told
    the stored bytes read so far (over all parts) and the events sorted, now and then.
    """
    share = share or Share()
    bounds = TimeBounds.of(setup.config.stream)
    stats = RunStats()
    at = now()
    done = 0
    for part in parts:
        reader = _Reader(part, setup, sorter, bounds, at, stats, strict, share)
        if progress is not None:
            reader.progress = lambda read, base=done: progress(base + read, sorter.records)
        reader.read()
        done += stored_size(part.file) or reader.position.tell()
        if progress is not None:
            progress(done, sorter.records)
    return stats


class _Reader:
    """One file's lines into the sort."""

    def __init__(
        self,
        part: HistoryPart,
        setup: RunSetup,
        sorter: ExternalSort,
        bounds: TimeBounds,
        now: float,
        stats: RunStats,
        strict: bool,
        share: Share,
    ) -> None:
        self.part, self.setup, self.sorter = part, setup, sorter
        self.bounds, self.share = bounds, share
        self.now, self.stats, self.strict = now, stats, strict
        self.position = ReadPosition()
        self.progress: Callable[[int], None] | None = None

    def bad(self, where: str, after_line: bool = False) -> None:
        reported = len(self.stats.bad_examples)
        self.stats.bad(where)
        if len(self.stats.bad_examples) > reported:
            self.share.where.append(self.share.line + (0.5 if after_line else 0.0))
        if self.strict:
            raise StrictStop(where)

    def read(self) -> None:
        display = self.part.file.display
        try:
            for line_no, raw in read_lines(self.part.file, position=self.position):
                if not self.share.take():
                    continue
                self.stats.lines += 1
                if self.progress is not None and line_no % PROGRESS_LINES == 0:
                    self.progress(self.position.tell())
                if self.part.is_control:
                    self._control(line_no, raw)
                else:
                    self._events(line_no, raw)
        except HistoryError as exc:  # unreadable from here on: report it, keep what was read
            if self.share.index == 0:  # every share meets it: one reports it
                said = str(exc) if str(exc).startswith(display) else f"{display}: {exc}"
                self.bad(said, after_line=True)

    def _events(self, line_no: int, raw: bytes) -> None:
        try:
            events, problems = decode_history_line(raw, self.setup.aliases, self.bounds, self.now)
        except DecodeError as exc:
            self.bad(f"{self.part.file.display}:{line_no}: {exc}")
            return
        time_range, add = self.setup.time_range, self.sorter.add
        kept = 0
        for event in events:
            try:
                record = canonical(event)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            kept += 1
            t = event["time"]
            if t not in time_range:
                self.stats.outside_range += 1
                continue
            add(t, (SPAN if event.get("kind") == "span" else EVENT) + record)
        if problems:
            more = f" (and {len(problems) - 1} more of its events)" if len(problems) > 1 else ""
            tail = f"; its other {kept} event(s) are kept" if kept else ""
            self.bad(f"{self.part.file.display}:{line_no}: {problems[0]}{more}{tail}")

    def _control(self, line_no: int, raw: bytes) -> None:
        where = f"{self.part.file.display}:{line_no}"
        try:
            obj = orjson.loads(raw)
            event = parse_control(obj, where=where)
        except orjson.JSONDecodeError as exc:
            self.bad(f"{where}: not valid JSON: {exc}")
            return
        except ControlError as exc:
            self.bad(str(exc))
            return
        try:
            record = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        except TypeError as exc:
            self.bad(f"{where}: a value cannot be stored exactly ({exc})")
            return
        self.stats.control_events += 1
        self.sorter.add(event.at, CONTROL + record)
