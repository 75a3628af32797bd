"""A circuit breaker per receiver: stop hammering a channel that keeps failing.

Closed: sends go through and consecutive failures are counted. After `threshold` of them it
opens: no sends for `reset_seconds`, notifications wait in the outbox instead of burning their
retries. Then one probe is let through (half-open): success closes it, failure opens it again.
Rate limiting (429) is not a failure of the channel and is not counted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"
PROBE_POLL_SECONDS = 0.05


class CircuitBreaker:
    """Thread-safe three-state breaker with an injectable monotonic clock."""

    def __init__(
        self, threshold: int, reset_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.times_opened = 0

    @property
    def state(self) -> str:
        with self._lock:
            if self._state == OPEN and self._clock() - self._opened_at >= self.reset_seconds:
                return HALF_OPEN
            return self._state

    def wait_time(self) -> float:
        """0 when a send may go now (and, half-open, claims the single probe); else seconds to wait."""
        with self._lock:
            if self._state == CLOSED:
                return 0.0
            if self._state == OPEN:
                remaining = self.reset_seconds - (self._clock() - self._opened_at)
                if remaining > 0:
                    return remaining
                self._state = HALF_OPEN
                self._probing = False
            if self._probing:
                return PROBE_POLL_SECONDS
            self._probing = True
            return 0.0

    def success(self) -> None:
        with self._lock:
            self._state = CLOSED
            self._failures = 0
            self._probing = False

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state == HALF_OPEN or self._failures >= self.threshold:
                if self._state != OPEN:
                    self.times_opened += 1
                self._state = OPEN
                self._opened_at = self._clock()
                self._probing = False

    def release(self) -> None:
        """A claimed probe ended without a verdict (e.g. a 429): let another one go."""
        with self._lock:
            self._probing = False
