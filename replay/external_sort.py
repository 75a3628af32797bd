"""An external sort of (time, record) pairs in bounded memory: sorted runs on disk, then merged.

Replay orders a whole history by event time before the dataflow sees it, and a history may be
many times larger than the memory a replay may use. Records are collected until they fill the
memory budget, sorted and written to a run file; at the end the runs are merged (at most
`fan_in` at a time, merging in passes when there are more) into one sequence in time order.

The order is total: records with the same time are ordered by their bytes. So the merged
sequence depends only on the multiset of records added, never on the order they were added in,
nor on the budget, nor on how many runs there were. Records are opaque bytes here; the caller
chooses them (replay uses each event's canonical serialisation).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d, ExternalSort(d, memory_budget=1) as s:
    ...     for t, r in [(2.0, b"b"), (1.0, b"z"), (2.0, b"a")]:
    ...         s.add(t, r)
    ...     list(s.merged()), s.runs_written
    ([(1.0, b'z'), (2.0, b'a'), (2.0, b'b')], 3)
"""

from __future__ import annotations

import heapq
import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

HEADER = struct.Struct(">dI")  # the time, then the record's length
# What one buffered record costs beyond its bytes: the (time, record) tuple, the float, the
# bytes object's header and the list's slot.
RECORD_OVERHEAD = 120
MAX_FAN_IN = 64
MIN_READ_BUFFER = 16 << 10
MAX_READ_BUFFER = 1 << 20

Pair = tuple[float, bytes]


class SpillError(Exception):
    """A run could not be written or read (a full disk, a removed directory): one line."""


class ExternalSort:
    """Add pairs with `add`, then iterate `merged()` once; use as a context manager.

    `directory` must exist; run files are created in it and removed as they are merged and when
    the sort is closed. `memory_budget` (bytes) bounds the records held in memory at once while
    adding, and the read buffers while merging.
    """

    def __init__(self, directory: str | Path, memory_budget: int, fan_in: int = MAX_FAN_IN) -> None:
        if memory_budget <= 0:
            raise ValueError("memory_budget must be positive")
        if fan_in < 2:
            raise ValueError("fan_in must be at least 2")
        self.directory = Path(directory)
        self.memory_budget = memory_budget
        self.fan_in = fan_in
        self.records = 0
        self.runs_written = 0
        self._buffer: list[Pair] = []
        self._buffered = 0
        self._runs: list[Path] = []
        self._merging = False

    def __enter__(self) -> ExternalSort:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def add(self, t: float, record: bytes) -> None:
        """Add one record at time `t` (a finite float: NaN has no place in an order)."""
        if self._merging:
            raise RuntimeError("cannot add records once merging has started")
        self._buffer.append((t, record))
        self._buffered += len(record) + RECORD_OVERHEAD
        self.records += 1
        if self._buffered >= self.memory_budget:
            self._spill()

    def merged(self) -> Iterator[Pair]:
        """Every record added, in (time, bytes) order. Iterate it once."""
        self._merging = True
        if not self._runs:  # everything fitted in memory: no disk at all
            buffer, self._buffer, self._buffered = self._buffer, [], 0
            buffer.sort()
            yield from buffer
            return
        if self._buffer:
            self._spill()
        while len(self._runs) > self.fan_in:
            self._merge_pass()
        yield from heapq.merge(*(self._read(p) for p in self._runs))

    def hand_over(self) -> list[Path]:
        """Every record added, as sorted run files that this sort no longer owns (another
        process's sort takes them with `adopt`); nothing more can be added."""
        self._merging = True
        if self._buffer:
            self._spill()
        runs, self._runs = self._runs, []
        return runs

    def adopt(self, runs: list[Path], records: int) -> None:
        """Merge the sorted run files of another sort (`hand_over`), holding `records` records,
        with this one's: the merged sequence is the same as had every record been added here."""
        if self._merging:
            raise RuntimeError("cannot adopt runs once merging has started")
        self._runs.extend(runs)
        self.records += records

    def close(self) -> None:
        """Remove every run file left (merged ones are removed as soon as they are read)."""
        self._buffer = []
        for path in self._runs:
            path.unlink(missing_ok=True)
        self._runs = []

    # -- internals --

    def _spill(self) -> None:
        self._buffer.sort()
        self._runs.append(self._write(self._buffer))
        self._buffer, self._buffered = [], 0

    def _write(self, pairs: Iterable[Pair]) -> Path:
        path = self.directory / f"run-{self.runs_written:06d}.bin"
        self.runs_written += 1
        pack = HEADER.pack
        try:
            with open(path, "wb", buffering=MAX_READ_BUFFER) as f:
                write = f.write
                for t, record in pairs:
                    write(pack(t, len(record)))
                    write(record)
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise SpillError(
                f"cannot write a sorted run to {self.directory}: {exc.strerror or exc}"
            ) from None
        return path

    def _merge_pass(self) -> None:
        """Merge the runs `fan_in` at a time into fewer, longer runs."""
        merged: list[Path] = []
        runs = self._runs
        for i in range(0, len(runs), self.fan_in):
            group = runs[i : i + self.fan_in]
            if len(group) == 1:
                merged.append(group[0])
                continue
            merged.append(self._write(heapq.merge(*(self._read(p) for p in group))))
        self._runs = merged

    def _read_buffer(self) -> int:
        share = self.memory_budget // (2 * min(self.fan_in, max(len(self._runs), 1)))
        return max(MIN_READ_BUFFER, min(MAX_READ_BUFFER, share))

    def _read(self, path: Path) -> Iterator[Pair]:
        size = HEADER.size
        unpack = HEADER.unpack
        try:
            with open(path, "rb", buffering=self._read_buffer()) as f:
                read = f.read
                while head := read(size):
                    if len(head) < size:
                        raise SpillError(f"{path}: a sorted run ends mid-record")
                    t, n = unpack(head)
                    record = read(n)
                    if len(record) < n:
                        raise SpillError(f"{path}: a sorted run ends mid-record")
                    yield t, record
        except OSError as exc:
            raise SpillError(f"cannot read the sorted run {path}: {exc.strerror or exc}") from None
        finally:
            if os.path.exists(path):
                path.unlink()
