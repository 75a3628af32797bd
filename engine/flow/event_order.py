"""Event-time ordering: items in, one deterministic sequence of epochs out.

Items wait in a heap by (time, sequence) until the watermark passes them, and are released in
epochs that end on fixed multiples of `tick` seconds: an epoch holds, in time order, every item
before its end that had not been released yet. Which items fall into which epoch depends only on
the items and the watermarks, never on how they were batched, so every downstream stage sees the
same input on every run and with any number of workers.

Where the watermark comes from is the caller's business: replay reads a history that is already
sorted (`engine.history_sort`), so its watermark is simply the newest time read (`Frontier`);
the live engine keeps one per sender (`engine.flow.source_clocks`). An item that arrives behind the
watermark is not moved: it keeps its own time and goes out with the next epoch, and the order
stage decides, window by window, whether it can still count (see `RunSetup.window_closed`).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Epoch:
    """All items with time before `watermark` not released before, in (time, seq) order."""

    index: int
    watermark: float
    items: list[Any]
    final: bool = False


class EventOrder:
    """The heap and the epoch boundaries. Plain attributes, so it pickles as Bytewax state."""

    def __init__(
        self,
        *,
        tick: float = 30.0,
        heartbeat: float = 300.0,
        max_quiet: float = 86400.0,
        start_at_watermark: bool = False,
    ) -> None:
        """`start_at_watermark` (live): the first epoch boundary is the first watermark, even
        before any item, so that time passes for the windows from the start."""
        if tick <= 0 or heartbeat < tick:
            raise ValueError("tick must be positive and heartbeat at least one tick")
        self.start_at_watermark = start_at_watermark
        self.tick = tick
        self.heartbeat = heartbeat
        self.max_quiet = max_quiet
        # (time, place, item): the place breaks ties, a number (replay) or (sender, number) (live)
        self.heap: list[tuple[float, Any, Any]] = []
        self.last_boundary: float | None = None
        self.last_nonempty: float = -math.inf
        self.index = 0
        self.finished = False

    @property
    def released(self) -> float:
        """Every item before this time has gone out (the last epoch's watermark)."""
        return -math.inf if self.last_boundary is None else self.last_boundary

    def push(self, t: float, seq: Any, item: Any) -> None:
        heapq.heappush(self.heap, (t, seq, item))

    def release(self, watermark: float) -> list[Epoch]:
        """The epochs complete at `watermark`; `math.inf` ends the stream with a final epoch."""
        if self.finished:
            return []
        w = watermark
        out: list[Epoch] = []
        if self.last_boundary is None:
            if self.start_at_watermark and math.isfinite(w):
                first = min(w, self.heap[0][0]) if self.heap else w
            elif not self.heap or self.heap[0][0] >= w:
                return self._finish(out) if w == math.inf else out
            else:
                first = self.heap[0][0]
            self.last_boundary = math.floor(first / self.tick) * self.tick
            self.last_nonempty = self.last_boundary
        while True:
            boundary = self._next_boundary(w)
            if boundary is None:
                break
            out.append(self._emit(boundary))
        if w == math.inf:
            self._finish(out)
        return out

    def _next_boundary(self, w: float) -> float | None:
        """The next boundary to emit at or before `w`, skipping long empty stretches."""
        assert self.last_boundary is not None
        c = self.last_boundary + self.tick
        if w == math.inf and not self.heap:
            return None  # nothing left: no heartbeats beyond the end of the data
        if c > w:
            return None
        if self.heap and self.heap[0][0] < c:
            return c
        # c is empty: the next non-empty boundary, if every item before it has arrived
        if self.heap and self.heap[0][0] < w:
            next_full = (math.floor(self.heap[0][0] / self.tick) + 1) * self.tick
        else:
            next_full = math.inf
        quiet_limit = self.last_nonempty + self.max_quiet
        beat = math.ceil(c / self.heartbeat) * self.heartbeat
        if beat < next_full and beat <= w and beat <= quiet_limit:
            return beat
        if next_full <= w:
            return next_full
        return None

    def _emit(self, boundary: float) -> Epoch:
        items: list[Any] = []
        heap = self.heap
        while heap and heap[0][0] < boundary:
            items.append(heapq.heappop(heap)[2])
        if items:
            self.last_nonempty = boundary
        self.last_boundary = boundary
        self.index += 1
        return Epoch(self.index, boundary, items)

    def _finish(self, out: list[Epoch]) -> list[Epoch]:
        """The stream ended: one final, possibly empty, epoch closes the run."""
        self.finished = True
        boundary = (self.last_boundary + self.tick) if self.last_boundary is not None else 0.0
        self.index += 1
        out.append(Epoch(self.index, boundary, [], final=True))
        return out


class Frontier:
    """The watermark of partitions that each arrive in time order: the least newest time.

    A partition whose input has ended no longer holds anything back; when every one has ended
    the watermark is infinite, which closes the stream.
    """

    def __init__(self, partitions: list[str]) -> None:
        self.high: dict[str, float] = dict.fromkeys(partitions, -math.inf)
        self.done: set[str] = set()

    def advance(self, partition: str, t: float, done: bool = False) -> None:
        if t > self.high.get(partition, -math.inf):
            self.high[partition] = t
        else:
            self.high.setdefault(partition, -math.inf)
        if done:
            self.done.add(partition)

    def watermark(self) -> float:
        live = [h for p, h in self.high.items() if p not in self.done]
        return min(live) if live else math.inf
