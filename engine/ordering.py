"""Event-time ordering: many partitions in, one deterministic sequence of epochs out.

Each history file (or live source partition) is read in its own order; a record more
than `lateness` behind its partition's newest time is late and is placed at that
partition's watermark instead of its own time. The partitions are merged by a
watermark (the minimum over live partitions of their newest time, less the allowed
lateness), and released in epochs that end on fixed multiples of `tick` seconds.

Which items fall into which epoch depends only on the data, never on the order in
which partitions happened to arrive, so every downstream stage sees the same input
on every run and with any number of workers. That is what makes replay byte-identical.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Batch:
    """What one partition hands to the merger: items and how far the partition has got."""

    partition: int
    high: float  # the newest event time the partition has seen so far
    items: list[tuple[float, int, str, Any]] = field(
        default_factory=list
    )  # (time, seq, dest, payload)
    done: bool = False


@dataclass(slots=True)
class Epoch:
    """All items with time before `watermark` not yet released, in time order."""

    index: int
    watermark: float
    items: list[Any]
    final: bool = False


class EventOrder:
    """The merger. Plain attributes, so it pickles as Bytewax state."""

    def __init__(
        self,
        partitions: int,
        *,
        lateness: float = 60.0,
        tick: float = 30.0,
        heartbeat: float = 300.0,
        max_quiet: float = 86400.0,
    ) -> None:
        if tick <= 0 or heartbeat < tick:
            raise ValueError("tick must be positive and heartbeat at least one tick")
        self.high = [-math.inf] * partitions
        self.lateness = lateness
        self.done = [False] * partitions
        self.tick = tick
        self.heartbeat = heartbeat
        self.max_quiet = max_quiet
        self.heap: list[tuple[float, int, int, Any]] = []
        self.last_boundary: float | None = None
        self.last_nonempty: float = -math.inf
        self.index = 0
        self.finished = False

    def watermark(self) -> float:
        live = [h for h, d in zip(self.high, self.done, strict=True) if not d]
        return min(live) - self.lateness if live else math.inf

    def push(self, batch: Batch) -> list[Epoch]:
        """Add a partition's batch; return the epochs that became complete."""
        p = batch.partition
        if batch.high > self.high[p]:
            self.high[p] = batch.high
        heap = self.heap
        for t, seq, payload in batch.items:
            heapq.heappush(heap, (t, p, seq, payload))
        if batch.done:
            self.done[p] = True
        return self._release()

    def _release(self) -> list[Epoch]:
        if self.finished:
            return []
        w = self.watermark()
        out: list[Epoch] = []
        if self.last_boundary is None:
            if not self.heap or self.heap[0][0] >= w:
                return self._finish(out) if w == math.inf else out
            self.last_boundary = math.floor(self.heap[0][0] / self.tick) * self.tick
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
            items.append(heapq.heappop(heap)[3])
        if items:
            self.last_nonempty = boundary
        self.last_boundary = boundary
        self.index += 1
        return Epoch(self.index, boundary, items)

    def _finish(self, out: list[Epoch]) -> list[Epoch]:
        """All partitions are done: one final, possibly empty, epoch closes the run."""
        self.finished = True
        boundary = (self.last_boundary + self.tick) if self.last_boundary is not None else 0.0
        self.index += 1
        out.append(Epoch(self.index, boundary, [], final=True))
        return out


class LatenessTracker:
    """Per-partition: the newest time seen, and whether a record is late."""

    __slots__ = ("high", "lateness")

    def __init__(self, lateness: float) -> None:
        self.lateness = lateness
        self.high = -math.inf

    def advance_to(self, now: float) -> None:
        """Live sources: wall time moves the watermark on when no data arrives."""
        if now > self.high:
            self.high = now

    def place(self, t: float) -> tuple[float, bool]:
        """The time to order a record by, and whether it is late."""
        if t > self.high:
            self.high = t
            return t, False
        floor = self.high - self.lateness
        if t < floor:
            return floor, True
        return t, False
