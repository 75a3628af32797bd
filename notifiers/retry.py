"""When to try again: exponential backoff with jitter, Retry-After, and a per-receiver pace.

Plain objects with an injectable clock and random source, so tests use milliseconds and
property tests can check the bounds without sleeping.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from notifiers.config import DeliveryConfig
from notifiers.receiver import DeliveryError


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: initial * multiplier**(n-1), capped, minus up to `jitter` of it."""

    max_attempts: int = 6
    initial: float = 1.0
    maximum: float = 60.0
    multiplier: float = 2.0
    jitter: float = 0.2
    max_retry_after: float = 300.0

    @classmethod
    def from_config(cls, config: DeliveryConfig) -> RetryPolicy:
        return cls(
            max_attempts=config.max_attempts,
            initial=config.backoff_initial_seconds,
            maximum=config.backoff_max_seconds,
            multiplier=config.backoff_multiplier,
            jitter=config.jitter,
            max_retry_after=config.max_retry_after_seconds,
        )

    def backoff(self, failures: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the `failures`-th failed attempt (failures >= 1)."""
        exponent = max(0, failures - 1)
        try:
            base = min(self.maximum, self.initial * self.multiplier**exponent)
        except OverflowError:
            base = self.maximum
        return base * (1.0 - self.jitter * rng())

    def wait_after(
        self, failures: int, error: DeliveryError, rng: Callable[[], float] = random.random
    ) -> float:
        """The server's Retry-After when it sent one (capped), else the backoff."""
        if error.retry_after is not None:
            return min(error.retry_after, self.max_retry_after)
        return self.backoff(failures, rng)


class RateLimiter:
    """Spaces sends at least `min_interval` apart (Slack: about one message/s per channel)."""

    def __init__(self, min_interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.min_interval = min_interval
        self._clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Books the next slot and returns how long to wait for it (0 when it is now)."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.min_interval
            return slot - now

    def push_back(self, seconds: float) -> None:
        """No send before `seconds` from now (after a 429 with Retry-After)."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)
