"""The hand-over between the HTTP threads and the dataflow: bounded, so overload is visible.

Bounded twice: by events and by bytes (an estimate of the memory the waiting events hold).
When the inbox is full the receiver answers 429 with `Retry-After`, and OTLP exporters
retry later: back-pressure reaches the senders instead of memory growing without bound. A
request that could never fit, even into an empty inbox, is refused for good (413), since a
retry would meet the same answer forever.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from typing import Any

# A decoded event holds its dict plus the values in it: about twice the dict's own size
# (measured on OTLP spans of ~20 attributes: 1.1 KB from JSON, 2.3 KB from protobuf).
_VALUES_PER_DICT = 2


def estimate_bytes(events: list[dict[str, Any]], wire_bytes: int = 0) -> int:
    """Memory the decoded events hold, at least the bytes they arrived as (long strings)."""
    held = sum(sys.getsizeof(event) for event in events) * _VALUES_PER_DICT
    return max(held, wire_bytes)


class Inbox:
    def __init__(self, max_events: int = 200_000, max_bytes: int = 128 << 20) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._events: deque[dict[str, Any]] = deque()
        self._sizes: deque[int] = deque()  # bytes charged per waiting event
        self._bytes = 0
        self._controls: deque[Any] = deque()
        self._lock = threading.Lock()
        self.closed = False
        self.accepted = 0
        self.refused = 0

    def fits(self, events: int, nbytes: int) -> bool:
        """Whether a batch this large could ever be taken (into an empty inbox)."""
        return events <= self.max_events and nbytes <= self.max_bytes

    def offer_events(self, events: list[dict[str, Any]], nbytes: int | None = None) -> bool:
        """Take all of `events` or none (False: full, the sender should retry later).

        `nbytes`: what the batch holds (default: `estimate_bytes(events)`)."""
        if nbytes is None:
            nbytes = estimate_bytes(events)
        with self._lock:
            if (
                self.closed
                or len(self._events) + len(events) > self.max_events
                or self._bytes + nbytes > self.max_bytes
            ):
                self.refused += len(events)
                return False
            self._events.extend(events)
            if events:
                share, rest = divmod(nbytes, len(events))
                self._sizes.extend([share] * len(events))
                self._sizes[-1] += rest
            self._bytes += nbytes
            self.accepted += len(events)
            return True

    def offer_control(self, event: Any) -> None:
        with self._lock:
            self._controls.append(event)

    def drain(self, limit: int = 5000) -> tuple[list[dict[str, Any]], list[Any], bool]:
        """Up to `limit` events, every pending control event, and whether the inbox is done."""
        with self._lock:
            n = min(limit, len(self._events))
            events = [self._events.popleft() for _ in range(n)]
            self._bytes -= sum(self._sizes.popleft() for _ in range(n))
            controls = list(self._controls)
            self._controls.clear()
            done = self.closed and not self._events
            return events, controls, done

    @property
    def waiting_events(self) -> int:
        return len(self._events)

    @property
    def waiting_bytes(self) -> int:
        return self._bytes

    def close(self) -> None:
        with self._lock:
            self.closed = True
