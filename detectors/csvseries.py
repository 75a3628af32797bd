"""Reading a `timestamp,value` CSV for `spanwatch score`: headers, ISO or epoch times, bad rows."""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TextIO

from detectors.timeparse import parse_time

TIME_COLUMNS = ("timestamp", "time", "ts", "datetime", "date")
VALUE_COLUMNS = ("value", "y", "metric")


@dataclass(frozen=True)
class Point:
    line: int
    raw_time: str
    time: float
    value: float
    raw_value: str


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


def _is_header(row: list[str]) -> bool:
    try:
        parse_time(row[0])
    except ValueError:
        return True
    return False


def read_series(stream: TextIO, bad: BadRows) -> Iterator[Point]:
    """Good points in file order; bad rows (unparseable, NaN/inf, out of order) go to `bad`."""
    reader = csv.reader(stream)
    t_col, v_col = 0, 1
    last_time = -math.inf
    first = True
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        if first:
            first = False
            if _is_header(row):
                t_col, v_col = _columns(row)
                continue
        if len(row) <= max(t_col, v_col):
            bad.add(line, f"expected at least {max(t_col, v_col) + 1} columns, got {len(row)}")
            continue
        raw_t, raw_v = row[t_col].strip(), row[v_col].strip()
        try:
            t = parse_time(raw_t)
        except ValueError:
            bad.add(line, f"not a timestamp: {raw_t!r}")
            continue
        try:
            v = float(raw_v)
        except ValueError:
            bad.add(line, f"not a number: {raw_v!r}")
            continue
        if not math.isfinite(v):
            bad.add(line, f"not a finite number: {raw_v!r}")
            continue
        if t < last_time:
            bad.add(line, f"out of order: {raw_t} is before the previous point")
            continue
        last_time = t
        yield Point(line, raw_t, t, v, raw_v)


def typical_step(times: list[float]) -> float | None:
    """The median spacing of the points (seconds), or None with fewer than two points."""
    gaps = sorted(b - a for a, b in itertools.pairwise(times) if b > a)
    return gaps[len(gaps) // 2] if gaps else None
