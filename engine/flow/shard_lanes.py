"""Replay: what the keyed shards need goes straight from each partition to its shard.

Each item a shard needs used to cross twice: from the partition's worker to the order stage, and
from there to the shard's worker (pickled each time it left a process). Replay's partitions are
already in event-time order, so the order stage need not carry the items: it is told only each
event's time (to cut the same epochs) and the hits and control events bound for the incidents,
and it sends each shard a mark per epoch (`EpochMsg` without items). Each partition sends each
shard, per chunk it read, the shard's inputs with their place in the order (`ShardChunk`); the
shard's inbox (`ShardInbox`) releases an epoch once it holds the order stage's mark and every
partition has sent everything before the epoch's end, its items in (time, place) order: the same
items, in the same order, as when they passed through the order stage.

The live engine keeps its items in the order stage: it drops, window by window, what arrives
after the windows closed, which needs the item there.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, NamedTuple

from engine.flow.epoch_merge import EpochMsg
from engine.flow.items import Matched, Timed, ToOrder

# (time, place in the sorted history, the event's inputs for one shard, in their order)
Entry = tuple[float, int, list[Any]]


class ShardChunk(NamedTuple):
    """One chunk of a partition, for one shard: its inputs, and how far the partition has got.

    `number` counts the partition's chunks from 1 (every shard gets one for every chunk, empty or
    not); `upto`: every input of the partition before this time is in this chunk or an earlier
    one (infinite for the partition's last chunk).
    """

    shard: str
    partition: str
    number: int
    upto: float
    entries: list[Entry]


def split_for_shards(
    to_order: ToOrder, number: int, shards: list[str]
) -> tuple[ToOrder, list[ShardChunk]]:
    """One matched chunk of a sorted partition: what the order stage needs, and a chunk for
    every shard."""
    lanes: dict[str, list[Entry]] = {shard: [] for shard in shards}
    kept: list[Timed] = []
    times: list[float] = []
    for timed in to_order.items:
        matched = timed.payload
        if type(matched) is not Matched:  # a control event: the incidents' business
            kept.append(timed)
            continue
        if matched.windowed:
            _route(lanes, timed, matched.windowed)
        if matched.hits:
            kept.append(Timed(timed.time, timed.seq, "", Matched(matched.hits, [])))
        else:
            times.append(timed.time)
    items = to_order.items
    upto = math.inf if to_order.done else (items[-1].time if items else -math.inf)
    chunks = [ShardChunk(s, to_order.partition, number, upto, lanes[s]) for s in shards]
    order = ToOrder(to_order.partition, kept, None, to_order.done, to_order.stats, times=times)
    return order, chunks


def _route(lanes: dict[str, list[Entry]], timed: Timed, windowed: list[tuple[str, Any]]) -> None:
    """An event's inputs, grouped by shard in their order, into each shard's lane."""
    if len(windowed) == 1:
        shard, item = windowed[0]
        lanes[shard].append((timed.time, timed.seq, [item]))
        return
    per: dict[str, list[Any]] = {}
    for shard, item in windowed:
        per.setdefault(shard, []).append(item)
    for shard, items in per.items():
        lanes[shard].append((timed.time, timed.seq, items))


class ShardInbox:
    """One shard's chunks from every partition and marks from the order stage; whole epochs out.

    Chunks may arrive in any order across partitions (and, to be safe, within one): a chunk is
    taken once every earlier chunk of its partition has been.
    """

    def __init__(self, partitions: list[str]) -> None:
        self.next = dict.fromkeys(partitions, 1)
        self.early: dict[tuple[str, int], ShardChunk] = {}
        self.upto = dict.fromkeys(partitions, -math.inf)
        self.lanes: dict[str, deque[Entry]] = {p: deque() for p in partitions}
        self.marks: deque[EpochMsg] = deque()

    def add_chunk(self, chunk: ShardChunk) -> None:
        self.early[(chunk.partition, chunk.number)] = chunk
        partition = chunk.partition
        while (partition, self.next[partition]) in self.early:
            taken = self.early.pop((partition, self.next[partition]))
            self.next[partition] += 1
            self.lanes[partition].extend(taken.entries)
            self.upto[partition] = max(self.upto[partition], taken.upto)

    def add_marks(self, marks: list[EpochMsg]) -> None:
        self.marks.extend(marks)

    def ready(self) -> list[EpochMsg]:
        """The epochs whose every input has arrived, each with its inputs in order."""
        out: list[EpochMsg] = []
        while self.marks:
            mark = self.marks[0]
            until = math.inf if mark.final else mark.watermark
            if min(self.upto.values()) < until:
                break
            self.marks.popleft()
            out.append(
                EpochMsg(mark.source, mark.index, mark.watermark, self._take(until), mark.final)
            )
        return out

    def _take(self, until: float) -> list[Any]:
        """Every waiting input before `until`, in (time, place) order."""
        entries: list[Entry] = []
        for lane in self.lanes.values():
            while lane and lane[0][0] < until:
                entries.append(lane.popleft())
        if len(self.lanes) > 1:
            entries.sort(key=_place)
        return [item for _t, _seq, items in entries for item in items]


def _place(entry: Entry) -> tuple[float, int]:
    return entry[0], entry[1]


class ReplayShard:
    """A replay shard's state: its inbox, and the correlations and detectors (`ShardState`,
    made on the first epoch)."""

    def __init__(self, partitions: list[str]) -> None:
        self.inbox = ShardInbox(partitions)
        self.state: Any = None
