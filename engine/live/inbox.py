"""The hand-over between the HTTP threads and the dataflow: bounded, so overload is visible.

When the inbox is full the receiver answers 429 with `Retry-After`, and OTLP exporters
retry later: back-pressure reaches the senders instead of memory growing without bound.
Each event travels with its sender (see `engine.live.senders`); each control event with the
ticket its API request waits on, if any.

With `match` (the live engine's rules and detector routing), events are matched as they are
offered, in the receiver's thread: the hits of rules that need no window go to a lane of their
own that every drain empties first, so a policy hit never waits behind a backlog of events
that are only waiting for their windows.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

Match = Callable[[dict[str, Any]], tuple[list[Any], list[tuple[str, Any]]]]
Queued = tuple[str, dict[str, Any], list[tuple[str, Any]] | None]  # sender, event, windowed


class Inbox:
    def __init__(self, max_events: int = 200_000, match: Match | None = None) -> None:
        self.max_events = max_events
        self.match = match
        self._events: deque[Queued] = deque()
        self._hits: list[Any] = []
        self._controls: deque[tuple[str | None, Any]] = deque()
        self._lock = threading.Lock()
        self.closed = False
        self.accepted = 0
        self.refused = 0

    def offer_events(self, events: list[dict[str, Any]], senders: list[str] | str = "") -> bool:
        """Take all of `events` or none (False: full, the sender should retry later).

        `senders`: one per event, or one for them all.
        """
        if not self._room(len(events)):
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
            if self.closed or len(self._events) + len(events) > self.max_events:
                self.refused += len(events)
                return False
            self._events.extend(queued)
            self._hits.extend(hits)
            self.accepted += len(events)
            return True

    def _room(self, count: int) -> bool:
        with self._lock:
            if self.closed or len(self._events) + count > self.max_events:
                self.refused += count
                return False
            return True

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
            hits, self._hits = self._hits, []
            controls = list(self._controls)
            self._controls.clear()
            done = self.closed and not self._events
            return events, hits, controls, done

    def close(self) -> None:
        with self._lock:
            self.closed = True
