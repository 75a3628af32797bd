"""The hand-over between the receivers and the dataflow: bounded, so overload is visible.

Bounded twice: by events and by bytes (an estimate of the memory the waiting events hold).
A receiver reserves room before it writes a request to the intake log (`engine.live.wal`);
when the inbox is full it answers 429 with `Retry-After`, and OTLP exporters retry later:
back-pressure reaches the senders instead of memory growing without bound. A request that
could never fit, even into an empty inbox, is refused for good (413), since a retry would meet
the same answer forever.

What the dataflow may take are *records*: accepted requests once they are durable, published
in log order by the intake log's writer. A record holds, per event, its sender, its event time
and what the windows need of it (the receivers matched it already, see `engine.live.intake`);
the hits of rules that need no window, and control events, wait in a lane of their own that
every drain empties first, so a policy hit never waits behind a backlog of events that are only
waiting for their windows.

The live source takes in two steps: `peek` says what a drain would take (and where that leaves
the log, for the tick it writes first), `commit` takes it. Only the source takes, so nothing
can come between the two but more records at the end.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.incidents.control import ControlEvent
from engine.incidents.model import Hit

MAX_SENDERS_COUNTED = 10_000  # senders with refused events remembered, the latest kept

# A decoded event holds its dict plus the values in it: about twice the dict's own size
# (measured on OTLP spans of ~20 attributes: 1.1 KB from JSON, 2.3 KB from protobuf).
_VALUES_PER_DICT = 2

# per event: sender, event time, what the windows need of it [(shard, item)]
Arrival = tuple[str, float, list[tuple[str, Any]]]
# per event taken: the same and where it is in the intake log (record position, index)
Taken = tuple[str, float, list[tuple[str, Any]], tuple[int, int]]


def estimate_bytes(events: Sequence[Mapping[str, object]], wire_bytes: int = 0) -> int:
    """Memory the decoded events hold, at least the bytes they arrived as (long strings)."""
    held = sum(sys.getsizeof(event) for event in events) * _VALUES_PER_DICT
    return max(held, wire_bytes)


@dataclass(slots=True)
class AcceptedItem:
    """One accepted request (or control event, or Kafka message) as the dataflow takes it."""

    seq: int
    pos: int  # where its frame starts in the intake log
    arrivals: list[Arrival]
    hits: list[Hit]
    controls: list[tuple[str | None, ControlEvent]]  # (ticket the API waits on, control event)
    nbytes: int


def _charged(record: AcceptedItem, upto: int) -> int:
    """The bytes of `record` charged to its first `upto` events (all of them at the end)."""
    return record.nbytes * upto // len(record.arrivals)


@dataclass(slots=True)
class Drain:
    """What one drain takes, and where that leaves the log (a tick says the same)."""

    events: list[Taken]
    hits: list[Hit]
    controls: list[tuple[str | None, ControlEvent]]
    ev_seq: int  # events are taken through record `ev_seq`, `ev_idx` of its events
    ev_idx: int
    vis_seq: int  # hits and controls of every record through `vis_seq`
    scan_from: int  # every record before this position is taken whole
    _records_done: int = 0
    _head: int = 0
    _bytes: int = 0

    @property
    def empty(self) -> bool:
        return not self.events and not self.hits and not self.controls


class Inbox:
    def __init__(self, max_events: int = 200_000, max_bytes: int = 128 << 20) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._records: deque[AcceptedItem] = deque()  # published, with events not yet taken
        self._head = 0  # events of the first record already taken
        self._hits: list[Hit] = []
        self._controls: list[tuple[str | None, ControlEvent]] = []
        self._events = 0  # waiting + reserved
        self._bytes = 0
        self._ev = (0, 0)
        self._vis_seq = 0
        self._published_end = 0
        self._lock = threading.Lock()
        self.closed = False
        self.accepted = 0
        self.refused = 0  # events refused because the inbox was full
        self.refused_by_sender: dict[str, int] = {}  # events refused at decode, per sender

    def fits(self, events: int, nbytes: int) -> bool:
        """Whether a batch this large could ever be taken (into an empty inbox)."""
        return events <= self.max_events and nbytes <= self.max_bytes

    def reserve(self, events: int, nbytes: int) -> bool:
        """Room for a request on its way through the intake log (False: full, retry later)."""
        with self._lock:
            if (
                self.closed
                or self._events + events > self.max_events
                or self._bytes + nbytes > self.max_bytes
            ):
                self.refused += events
                return False
            self._events += events
            self._bytes += nbytes
            return True

    def release(self, events: int, nbytes: int) -> None:
        """A reservation whose request never reached the log."""
        with self._lock:
            self._events -= events
            self._bytes -= nbytes

    def publish(self, records: list[AcceptedItem], end: int) -> None:
        """Durable records, in log order, become visible (their room was reserved)."""
        with self._lock:
            for record in records:
                self._add(record)
                self.accepted += len(record.arrivals)
            self._published_end = max(self._published_end, end)

    def restore(
        self, records: list[AcceptedItem], head: int, ev: tuple[int, int], vis_seq: int, end: int
    ) -> None:
        """At start: what the last tick left in the log (the first record from event `head`),
        which had taken events through `ev` and hits and controls through `vis_seq`."""
        with self._lock:
            self._ev = ev
            self._vis_seq = vis_seq
            for record in records:
                self._events += len(record.arrivals)
                self._bytes += record.nbytes
            for record in records:
                self._add(record)
            if self._records and head:
                first = self._records[0]
                self._head = head
                self._events -= head
                self._bytes -= _charged(first, head)
            self._published_end = end

    def _add(self, record: AcceptedItem) -> None:
        if record.arrivals:
            self._records.append(record)
        else:  # nothing to wait for: its room is free again
            self._bytes -= record.nbytes
        self._hits.extend(record.hits)
        self._controls.extend(record.controls)
        self._vis_seq = max(self._vis_seq, record.seq)

    def peek(self, limit: int = 250) -> Drain:
        """Up to `limit` events from the head, every waiting hit and control event."""
        with self._lock:
            events: list[Taken] = []
            ev_seq, ev_idx = self._ev
            head, done, freed = self._head, 0, 0
            for record in self._records:
                room = limit - len(events)
                if room <= 0:
                    break
                stop = min(len(record.arrivals), head + room)
                events.extend((*record.arrivals[i], (record.pos, i)) for i in range(head, stop))
                ev_seq, ev_idx = record.seq, stop
                freed += _charged(record, stop) - _charged(record, head)
                if stop < len(record.arrivals):
                    head = stop
                    break
                done, head = done + 1, 0
            records = self._records
            scan_from = records[done].pos if done < len(records) else self._published_end
            return Drain(
                events,
                list(self._hits),
                list(self._controls),
                ev_seq,
                ev_idx,
                self._vis_seq,
                scan_from,
                done,
                head,
                freed,
            )

    def commit(self, drain: Drain) -> None:
        """Take what `drain` (the last `peek`) said."""
        with self._lock:
            for _ in range(drain._records_done):
                self._records.popleft()
            self._head = drain._head
            del self._hits[: len(drain.hits)]
            del self._controls[: len(drain.controls)]
            self._events -= len(drain.events)
            self._bytes -= drain._bytes
            self._ev = (drain.ev_seq, drain.ev_idx)

    def count_refused(self, senders: list[str]) -> None:
        """Events refused at decode (`engine.otlp.event_checks`), counted against their senders."""
        with self._lock:
            counts = self.refused_by_sender
            for sender in senders:
                count = counts.pop(sender, 0)
                if not count and len(counts) >= MAX_SENDERS_COUNTED:
                    del counts[next(iter(counts))]
                counts[sender] = count + 1  # most recent goes last

    def refused_senders(self) -> dict[str, int]:
        with self._lock:
            return dict(self.refused_by_sender)

    @property
    def waiting_events(self) -> int:
        return self._events

    @property
    def waiting_bytes(self) -> int:
        return self._bytes

    def close(self) -> None:
        with self._lock:
            self.closed = True
