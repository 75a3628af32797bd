"""Replay's Bytewax source: the sorted history (see `engine.history_sort`), in chunks."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from engine.items import SortedRecords
from replay.external_sort import SpillError

CHUNK_RECORDS = 1024
HISTORY_KEY = "history"


class SortedHistoryError:
    """Where the source leaves a failure to read the sorted runs, for `run_replay` to report."""

    def __init__(self) -> None:
        self.reason: str | None = None


class _SortedPartition(StatefulSourcePartition[tuple[str, SortedRecords], None]):
    def __init__(self, records: Iterator[tuple[float, bytes]], error: SortedHistoryError) -> None:
        self.records = records
        self.error = error
        self.finished = False

    def next_batch(self) -> list[tuple[str, SortedRecords]]:
        if self.finished:
            raise StopIteration
        try:
            chunk = list(islice(self.records, CHUNK_RECORDS))
        except SpillError as exc:  # the disk failed under the runs: end the stream, say why
            self.error.reason = str(exc)
            chunk = []
        self.finished = len(chunk) < CHUNK_RECORDS
        return [(HISTORY_KEY, SortedRecords(chunk, self.finished))]

    def snapshot(self) -> None:
        return None


class SortedHistorySource(FixedPartitionedSource[tuple[str, SortedRecords], None]):
    """One partition: the whole history, merged from the sort's runs in event-time order."""

    def __init__(self, records: Iterator[tuple[float, bytes]]) -> None:
        self.records = records
        self.error = SortedHistoryError()

    def list_parts(self) -> list[str]:
        return [HISTORY_KEY]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _SortedPartition:
        return _SortedPartition(self.records, self.error)
