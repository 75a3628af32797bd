"""Replay's Bytewax source: the sorted history, in chunks, from one partition per worker.

The history is sorted once (`engine.history_sort`); each record then carries its place in that
order (`seq`). One worker reads the whole sequence; with more workers (and processes) the
sequence is cut into one partition file per worker (`split_history`), each in the same order,
and worker `i` reads partition `i` (a `DynamicSource`: every worker builds exactly its own, so
decoding and matching run where the partition is read, with no exchange). The order stage
merges the partitions back by `(time, seq)`, which is the sorted sequence again.

Exact duplicates (one span sent twice: every byte equal) lie side by side in the sequence; a
partition is chosen by the record's own bytes, so they lie side by side in one partition too,
and the partition's reader keeps the first and counts the other.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import orjson
from bytewax.inputs import DynamicSource, StatelessSourcePartition

from engine.flow.items import RunStats, SortedRecords
from engine.history_sort import CONTROL, SPAN
from replay.external_sort import SpillError

CHUNK_RECORDS = 1024
HISTORY_KEY = "history"
RECORD = struct.Struct(">dQI")  # time, place in the sorted history, length of the record
READ_BUFFER = 1 << 20

Sequenced = tuple[float, int, bytes]


class SortedHistoryError:
    """Where the source leaves a failure to read the sorted runs, for `run_replay` to report."""

    def __init__(self) -> None:
        self.reason: str | None = None


def partition_names(count: int) -> list[str]:
    """The partitions of a history read by `count` workers."""
    return [HISTORY_KEY] if count == 1 else [f"{HISTORY_KEY}-{i}" for i in range(count)]


def split_history(records: Iterator[tuple[float, bytes]], paths: list[Path]) -> int:
    """Write the sorted records, with their place in the order, into one file per partition;
    returns how many. Raises SpillError when a file cannot be written."""
    count = len(paths)
    pack = RECORD.pack
    files = []
    try:
        files = [open(p, "wb", buffering=READ_BUFFER) for p in paths]  # noqa: SIM115
        writes = [f.write for f in files]
        seq = 0
        for seq, (t, record) in enumerate(records, 1):
            write = writes[zlib.crc32(record) % count]
            write(pack(t, seq, len(record)))
            write(record)
    except OSError as exc:
        raise SpillError(
            f"cannot write a partition of the history: {exc.strerror or exc}"
        ) from None
    finally:
        for f in files:
            f.close()
    return seq


def read_partition(path: Path) -> Iterator[Sequenced]:
    """The records of one partition file, in order."""
    size, unpack = RECORD.size, RECORD.unpack
    try:
        with open(path, "rb", buffering=READ_BUFFER) as f:
            read = f.read
            while head := read(size):
                if len(head) < size:
                    raise SpillError(f"{path}: a partition of the history ends mid-record")
                t, seq, n = unpack(head)
                record = read(n)
                if len(record) < n:
                    raise SpillError(f"{path}: a partition of the history ends mid-record")
                yield t, seq, record
    except OSError as exc:
        raise SpillError(f"cannot read {path}: {exc.strerror or exc}") from None


def numbered(records: Iterator[tuple[float, bytes]]) -> Iterator[Sequenced]:
    """The whole sorted history as one partition: each record's place is its position."""
    for seq, (t, record) in enumerate(records, 1):
        yield t, seq, record


class _SortedPartition(StatelessSourcePartition[tuple[str, SortedRecords]]):
    """One partition, in order: exact duplicates dropped and counted, events counted."""

    def __init__(self, name: str, records: Iterator[Sequenced], error: SortedHistoryError) -> None:
        self.name = name
        self.records = records
        self.error = error
        self.finished = False
        self.last = b""
        self.stats = RunStats()
        self.number = 0

    def next_batch(self) -> list[tuple[str, SortedRecords]]:
        if self.finished:
            raise StopIteration
        try:
            chunk = list(islice(self.records, CHUNK_RECORDS))
        except SpillError as exc:  # the disk failed under the runs: end the stream, say why
            self.error.reason = str(exc)
            chunk = []
        self.finished = len(chunk) < CHUNK_RECORDS
        kept: list[Sequenced] = []
        for item in chunk:
            record = item[2]
            if record[:1] == SPAN:
                if record == self.last and orjson.loads(record[1:]).get("span_id"):
                    self.stats.duplicates += 1  # the same span sent twice
                    continue
                self.last = record
                self.stats.events += 1
            elif record[:1] != CONTROL:
                self.last = record
                self.stats.events += 1
            kept.append(item)
        stats = self.stats if self.finished else None
        self.number += 1
        return [(self.name, SortedRecords(kept, self.finished, stats, self.number))]


class SortedHistorySource(DynamicSource[tuple[str, SortedRecords]]):
    """The sorted history: the whole sequence (one worker) or one partition file per worker."""

    def __init__(
        self, records: Iterator[tuple[float, bytes]] | None = None, parts: list[Path] | None = None
    ) -> None:
        self.records = records
        self.parts = parts
        self.error = SortedHistoryError()

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _SortedPartition:
        if self.parts is None:
            assert self.records is not None and worker_count == 1
            return _SortedPartition(HISTORY_KEY, numbered(self.records), self.error)
        if len(self.parts) != worker_count:
            raise ValueError(f"{len(self.parts)} partitions for {worker_count} workers")
        names = partition_names(worker_count)
        return _SortedPartition(
            names[worker_index], read_partition(self.parts[worker_index]), self.error
        )
