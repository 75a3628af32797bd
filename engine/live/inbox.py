"""The hand-over between the HTTP threads and the dataflow: bounded, so overload is visible.

When the inbox is full the receiver answers 429 with `Retry-After`, and OTLP exporters
retry later: back-pressure reaches the senders instead of memory growing without bound.
Each event travels with its sender (see `engine.live.senders`); each control event with the
ticket its API request waits on, if any.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class Inbox:
    def __init__(self, max_events: int = 200_000) -> None:
        self.max_events = max_events
        self._events: deque[tuple[str, dict[str, Any]]] = deque()
        self._controls: deque[tuple[str | None, Any]] = deque()
        self._lock = threading.Lock()
        self.closed = False
        self.accepted = 0
        self.refused = 0

    def offer_events(self, events: list[dict[str, Any]], senders: list[str] | str = "") -> bool:
        """Take all of `events` or none (False: full, the sender should retry later).

        `senders`: one per event, or one for them all.
        """
        with self._lock:
            if self.closed or len(self._events) + len(events) > self.max_events:
                self.refused += len(events)
                return False
            if isinstance(senders, str):
                self._events.extend((senders, e) for e in events)
            else:
                self._events.extend(zip(senders, events, strict=True))
            self.accepted += len(events)
            return True

    def offer_control(self, event: Any, ticket: str | None = None) -> None:
        with self._lock:
            self._controls.append((ticket, event))

    def drain(
        self, limit: int = 5000
    ) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str | None, Any]], bool]:
        """Up to `limit` (sender, event) pairs, every pending (ticket, control event), and
        whether the inbox is done."""
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
