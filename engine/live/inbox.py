"""The hand-over between the HTTP threads and the dataflow: bounded, so overload is visible.

When the inbox is full the receiver answers 429 with `Retry-After`, and OTLP exporters
retry later: back-pressure reaches the senders instead of memory growing without bound.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class Inbox:
    def __init__(self, max_events: int = 200_000) -> None:
        self.max_events = max_events
        self._events: deque[dict[str, Any]] = deque()
        self._controls: deque[Any] = deque()
        self._lock = threading.Lock()
        self.closed = False
        self.accepted = 0
        self.refused = 0

    def offer_events(self, events: list[dict[str, Any]]) -> bool:
        """Take all of `events` or none (False: full, the sender should retry later)."""
        with self._lock:
            if self.closed or len(self._events) + len(events) > self.max_events:
                self.refused += len(events)
                return False
            self._events.extend(events)
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
            controls = list(self._controls)
            self._controls.clear()
            done = self.closed and not self._events
            return events, controls, done

    def close(self) -> None:
        with self._lock:
            self.closed = True
