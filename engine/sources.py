"""Bytewax sources over history: one partition per file, lines handed on in chunks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from engine.stages import Abort, LineChunk
from replay.readers import HistoryError, HistoryFile, read_lines

CHUNK_LINES = 256


@dataclass(frozen=True)
class Part:
    index: int
    file: HistoryFile
    is_control: bool = False

    @property
    def key(self) -> str:
        return f"{self.index:05d}"


class _FilePartition(StatefulSourcePartition[tuple[str, LineChunk], int]):
    def __init__(self, part: Part, next_line: int, abort: Abort | None) -> None:
        self.part = part
        self.abort = abort
        self.next_line = next_line
        self.lines: Iterator[tuple[int, bytes]] = read_lines(part.file, start_line=next_line)
        self.finished = False

    def next_batch(self) -> list[tuple[str, LineChunk]]:
        if self.finished:
            raise StopIteration
        chunk: list[tuple[int, bytes]] = []
        if self.abort is not None and self.abort.reason is not None:
            self.finished = True
            return [(self.part.key, LineChunk(self.part.index, chunk, done=True))]
        error = None
        try:
            for line_no, raw in self.lines:
                chunk.append((line_no, raw))
                if len(chunk) >= CHUNK_LINES:
                    break
            else:
                self.finished = True
        except HistoryError as exc:  # unreadable from here on: report it, keep what was read
            error = str(exc)
            self.finished = True
        if chunk:
            self.next_line = chunk[-1][0] + 1
        return [(self.part.key, LineChunk(self.part.index, chunk, self.finished, error))]

    def snapshot(self) -> int:
        return self.next_line


class HistorySource(FixedPartitionedSource[tuple[str, LineChunk], int]):
    """Every history file (and the control file) is a partition of its own."""

    def __init__(self, parts: list[Part], abort: Abort | None = None) -> None:
        self.parts = {p.key: p for p in parts}
        self.abort = abort

    def list_parts(self) -> list[str]:
        return list(self.parts)

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _FilePartition:
        return _FilePartition(self.parts[for_part], resume_state or 1, self.abort)
