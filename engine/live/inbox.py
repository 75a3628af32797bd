"""The hand-over between the HTTP threads and the dataflow: bounded, so overload is visible.

Bounded twice: by events and by bytes (an estimate of the memory the waiting events hold).
When the inbox is full the receiver answers 429 with `Retry-After`, and OTLP exporters
retry later: back-pressure reaches the senders instead of memory growing without bound. A
request that could never fit, even into an empty inbox, is refused for good (413), since a
retry would meet the same answer forever.

Each event travels with its sender (see `engine.live.senders`); each control event with the
ticket its API request waits on, if any. With `match` (the live engine's rules and detector
routing), events are matched as they are offered, in the receiver's thread: the hits of rules
that need no window go to a lane of their own that every drain empties first, so a policy hit
never waits behind a backlog of events that are only waiting for their windows.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

Match = Callable[[dict[str, Any]], tuple[list[Any], list[tuple[str, Any]]]]
Queued = tuple[str, dict[str, Any], list[tuple[str, Any]] | None]  # sender, event, windowed

MAX_SENDERS_COUNTED = 10_000  # senders with refused events remembered, the latest kept

# A decoded event holds its dict plus the values in it: about twice the dict's own size
# (measured on OTLP spans of ~20 attributes: 1.1 KB from JSON, 2.3 KB from protobuf).
_VALUES_PER_DICT = 2


def estimate_bytes(events: list[dict[str, Any]], wire_bytes: int = 0) -> int:
    """Memory the decoded events hold, at least the bytes they arrived as (long strings)."""
    held = sum(sys.getsizeof(event) for event in events) * _VALUES_PER_DICT
    return max(held, wire_bytes)


class Inbox:
    def __init__(
        self, max_events: int = 200_000, max_bytes: int = 128 << 20, match: Match | None = None
    ) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.match = match
        self._events: deque[Queued] = deque()
        self._sizes: deque[int] = deque()  # bytes charged per waiting event
        self._bytes = 0
        self._hits: list[Any] = []
        self._controls: deque[tuple[str | None, Any]] = deque()
        self._lock = threading.Lock()
        self.closed = False
        self.accepted = 0
        self.refused = 0  # events refused because the inbox was full
        self.refused_by_sender: dict[str, int] = {}  # events refused at decode, per sender

    def fits(self, events: int, nbytes: int) -> bool:
        """Whether a batch this large could ever be taken (into an empty inbox)."""
        return events <= self.max_events and nbytes <= self.max_bytes

    def offer_events(
        self,
        events: list[dict[str, Any]],
        senders: list[str] | str = "",
        nbytes: int | None = None,
    ) -> bool:
        """Take all of `events` or none (False: full, the sender should retry later).

        `senders`: one per event, or one for them all. `nbytes`: what the batch holds
        (default: `estimate_bytes(events)`).
        """
        if nbytes is None:
            nbytes = estimate_bytes(events)
        if not self._room(len(events), nbytes):
            return False
        names = [senders] * len(events) if isinstance(senders, str) else senders
        hits: list[Any] = []
        queued: list[Queued] = []
        for sender, event in zip(names, events, strict=True):
            if self.match is None:
                queued.append((sender, event, None))
                continue
            found, windowed = self.match(event)
            hits.extend(found)
            queued.append((sender, event, windowed))
        with self._lock:
            if not self._has_room(len(events), nbytes):
                self.refused += len(events)
                return False
            self._events.extend(queued)
            if events:
                share, rest = divmod(nbytes, len(events))
                self._sizes.extend([share] * len(events))
                self._sizes[-1] += rest
            self._bytes += nbytes
            self._hits.extend(hits)
            self.accepted += len(events)
            return True

    def _has_room(self, count: int, nbytes: int) -> bool:
        return (
            not self.closed
            and len(self._events) + count <= self.max_events
            and self._bytes + nbytes <= self.max_bytes
        )

    def _room(self, count: int, nbytes: int) -> bool:
        """A look before matching, so a full inbox costs no matching work."""
        with self._lock:
            if not self._has_room(count, nbytes):
                self.refused += count
                return False
            return True

    def count_refused(self, senders: list[str]) -> None:
        """Events refused at decode (`engine.event_checks`), counted against their senders."""
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

    def offer_control(self, event: Any, ticket: str | None = None) -> None:
        with self._lock:
            self._controls.append((ticket, event))

    def drain(
        self, limit: int = 250
    ) -> tuple[list[Queued], list[Any], list[tuple[str | None, Any]], bool]:
        """Up to `limit` queued events, every pending hit and (ticket, control event), and
        whether the inbox is done."""
        with self._lock:
            n = min(limit, len(self._events))
            events = [self._events.popleft() for _ in range(n)]
            self._bytes -= sum(self._sizes.popleft() for _ in range(n))
            hits, self._hits = self._hits, []
            controls = list(self._controls)
            self._controls.clear()
            done = self.closed and not self._events
            return events, hits, controls, done

    @property
    def waiting_events(self) -> int:
        return len(self._events)

    @property
    def waiting_bytes(self) -> int:
        return self._bytes

    def close(self) -> None:
        with self._lock:
            self.closed = True
