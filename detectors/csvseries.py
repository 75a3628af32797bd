"""Reading a `timestamp,value` CSV for `spanwatch score`: headers, ISO or epoch times, bad rows.

Series come from everywhere (a monitoring export, a spreadsheet, a public benchmark), so the
separator is found from the data rows (comma, tab, semicolon or bar) and, besides RFC 3339
and epoch seconds, year-first dates with slashes (`2019/1/1`, `2019/01/01 13:45`) are read.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TextIO

from detectors.timeparse import parse_time

SEPARATORS = (",", "\t", ";", "|")
_SLASH_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d")

TIME_COLUMNS = ("timestamp", "time", "ts", "datetime", "date")
VALUE_COLUMNS = ("value", "y", "metric")


@dataclass(frozen=True)
class SeriesRow:
    """One data row as read. `time` or `value` is None when that cell is not usable (the row
    is still a row: it is written back out, with an empty score)."""

    line: int
    raw_time: str
    time: float | None
    value: float | None
    raw_value: str

    @property
    def usable(self) -> bool:
        return self.time is not None and self.value is not None


@dataclass
class BadRows:
    """Rows that could not be used, with their 1-based line numbers and reasons."""

    rows: list[tuple[int, str]] = field(default_factory=list)

    def add(self, line: int, reason: str) -> None:
        self.rows.append((line, reason))

    def __len__(self) -> int:
        return len(self.rows)

    def summary(self, limit: int = 10) -> str:
        shown = "; ".join(f"line {n}: {why}" for n, why in self.rows[:limit])
        more = f"; ... and {len(self.rows) - limit} more" if len(self.rows) > limit else ""
        return shown + more


def _columns(header: list[str]) -> tuple[int, int]:
    names = [h.strip().lower() for h in header]
    t_col = next((names.index(n) for n in TIME_COLUMNS if n in names), 0)
    v_col = next((names.index(n) for n in VALUE_COLUMNS if n in names), None)
    if v_col is None:
        v_col = 1 if t_col == 0 else 0
    return t_col, v_col


def series_time(text: str) -> float:
    """Seconds since the epoch from RFC 3339 / ISO 8601, epoch seconds, or a year-first date
    with slashes (naive means UTC); ValueError otherwise."""
    try:
        return parse_time(text)
    except ValueError:
        for fmt in _SLASH_FORMATS:
            try:
                parsed = _dt.datetime.strptime(text.strip(), fmt)
            except ValueError:
                continue
            return parsed.replace(tzinfo=_dt.UTC).timestamp()
        raise


def _is_header(row: list[str]) -> bool:
    try:
        series_time(row[0])
    except ValueError:
        return True
    return False


def separator(lines: list[str]) -> str:
    """The separator every one of the first data rows has (the header is not asked: it may
    be written differently); a comma when none or several fit."""
    rows = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    rows = rows[1:21] or rows[:1]  # a lone line may be the only data row
    fitting = [sep for sep in SEPARATORS if rows and all(sep in ln for ln in rows)]
    return fitting[0] if len(fitting) == 1 else ","


def read_series(stream: TextIO, bad: BadRows) -> Iterator[SeriesRow]:
    """Every data row in file order, one SeriesRow each (blank and `#` lines are not rows).

    A row whose time cannot be read, or whose value is empty, not a number or not finite
    (NaN, inf), comes with None in that cell and its line and reason in `bad`. Times that
    repeat or go backwards are kept as they are: such a row is scored where it stands.
    """
    text = stream.read()
    head = text[:65536].splitlines()
    reader = csv.reader(io.StringIO(text), delimiter=separator(head))
    t_col, v_col = 0, 1
    first = True
    for row in reader:
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        if first:
            first = False
            if _is_header(row):
                t_col, v_col = _columns(row)
                continue
        yield _point(reader.line_num, row, t_col, v_col, bad)


def _point(line: int, row: list[str], t_col: int, v_col: int, bad: BadRows) -> SeriesRow:
    """One data row's SeriesRow; what is wrong with it (the time first) goes to `bad`."""
    raw_t = row[t_col].strip() if t_col < len(row) else ""
    raw_v = row[v_col].strip() if v_col < len(row) else ""
    if len(row) <= max(t_col, v_col):
        bad.add(line, f"expected at least {max(t_col, v_col) + 1} columns, got {len(row)}")
        return SeriesRow(line, raw_t, None, None, raw_v)
    t: float | None
    try:
        t = series_time(raw_t)
    except ValueError:
        bad.add(line, f"not a timestamp: {raw_t!r}")
        t = None
    problem, v = _value(raw_v)
    if problem is not None and t is not None:  # a row's first problem is the one told
        bad.add(line, problem)
    return SeriesRow(line, raw_t, t, v, raw_v)


def _value(raw: str) -> tuple[str | None, float | None]:
    """(what is wrong with a value cell, or None; its finite number, or None)."""
    try:
        v = float(raw)
    except ValueError:
        return (f"not a number: {raw!r}" if raw else "no value"), None
    if not math.isfinite(v):
        return f"not a finite number: {raw!r}", None
    return None, v


def disorder(points: list[SeriesRow]) -> tuple[int, int]:
    """(rows whose time is before the previous usable row's, rows that repeat its time)."""
    back = same = 0
    last = -math.inf
    for p in points:
        if p.time is None:
            continue
        if p.time < last:
            back += 1
        elif p.time == last:
            same += 1
        last = max(last, p.time)
    return back, same


def typical_step(times: list[float]) -> float | None:
    """The median positive spacing of the times (seconds), or None without one."""
    gaps = sorted(b - a for a, b in itertools.pairwise(times) if b > a)
    return gaps[len(gaps) // 2] if gaps else None
