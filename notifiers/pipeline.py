"""Delivering one notification to one receiver: the stages, in order, in one function.

    wait while the circuit is open -> keep the receiver's pace -> send
      -> delivered | retry after backoff or Retry-After | give up (dead letter)

The receiver only reports `(retryable, error)`; this is the single place that decides whether
and when to try again, as in Alertmanager's RetryStage. Waits are cut short by `stop`, so a
shutdown never hangs on a backoff: the notification stays in the outbox for the next start.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from notifiers.breaker import CircuitBreaker
from notifiers.model import Notification
from notifiers.receiver import DeliveryError, Receiver
from notifiers.retry import RateLimiter, RetryPolicy
from notifiers.secret_refs import Secret, scrub

log = logging.getLogger("notifiers")

SENT = "sent"
DEAD = "dead"
INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Delivery:
    """How one delivery ended: SENT, DEAD (give up) or INTERRUPTED (shutdown; try later)."""

    outcome: str
    attempts: int
    error: str | None = None


class Stats:
    """Thread-safe counters, overall and per receiver."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: Counter[str] = Counter()
        self._per_receiver: dict[str, Counter[str]] = {}

    def add(self, name: str, receiver: str | None = None, n: int = 1) -> None:
        with self._lock:
            self._totals[name] += n
            if receiver is not None:
                self._per_receiver.setdefault(receiver, Counter())[name] += n

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            data: dict[str, Any] = dict(self._totals)
            data["receivers"] = {r: dict(c) for r, c in self._per_receiver.items()}
        return data


class ReceiverLane:
    """One receiver with its breaker, pace and retry policy."""

    def __init__(
        self,
        receiver: Receiver,
        policy: RetryPolicy,
        breaker: CircuitBreaker,
        stats: Stats,
        stop: threading.Event,
        secrets: list[Secret] | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.receiver = receiver
        self.policy = policy
        self.breaker = breaker
        self.limiter = RateLimiter(receiver.min_interval)
        self.stats = stats
        self.stop = stop
        self._secrets = secrets or []
        self._rng = rng

    @property
    def name(self) -> str:
        return self.receiver.name

    def deliver(
        self,
        notification: Notification,
        attempts: int = 0,
        on_failure: Callable[[int], None] | None = None,
        before_send: Callable[[], None] | None = None,
    ) -> Delivery:
        """Sends until delivered, given up or stopped; `attempts` carries over a restart.
        `before_send` runs right before each attempt, after every wait."""
        while True:
            if not self._turn(before_send):
                return Delivery(INTERRUPTED, attempts)
            retryable, error = self._send_once(notification)
            if error is None:
                self.breaker.success()
                return Delivery(SENT, attempts + 1)
            attempts += 1
            reason = scrub(str(error), self._secrets)
            self._count_failure(retryable, error)
            if on_failure is not None:
                on_failure(attempts)
            if not retryable or attempts >= self.policy.max_attempts:
                return Delivery(DEAD, attempts, reason)
            if self.stop.wait(self._backoff(attempts, error, reason)):
                return Delivery(INTERRUPTED, attempts)

    def _turn(self, before_send: Callable[[], None] | None) -> bool:
        """Wait until the breaker and the pace allow an attempt; False when stopped first."""
        if not self._wait_for(self.breaker.wait_time):
            return False
        if self.stop.wait(self.limiter.reserve()):
            self.breaker.release()
            return False
        if before_send is not None:
            try:
                before_send()
            except BaseException:
                self.breaker.release()
                raise
        return True

    def _count_failure(self, retryable: bool, error: DeliveryError) -> None:
        """Tell the breaker (only a retryable failure counts towards opening it) and the stats."""
        self.stats.add("failed_attempts", self.name)
        if error.rate_limited:
            self.stats.add("rate_limited", self.name)
            self.breaker.release()
        elif retryable:
            before = self.breaker.times_opened
            self.breaker.failure()
            if self.breaker.times_opened > before:
                self.stats.add("breaker_opened", self.name)
                log.warning("receiver %s: circuit opened after repeated failures", self.name)
        else:
            self.breaker.release()

    def _backoff(self, attempts: int, error: DeliveryError, reason: str) -> float:
        """How long before the next attempt (a rate limit slows the lane's pace too)."""
        wait = self.policy.wait_after(attempts, error, self._rng)
        if error.rate_limited:
            self.limiter.push_back(wait)
        self.stats.add("retried", self.name)
        log.info(
            "receiver %s: attempt %d failed (%s), retry in %.3fs", self.name, attempts, reason, wait
        )
        return wait

    def _send_once(self, notification: Notification) -> tuple[bool, DeliveryError | None]:
        try:
            return self.receiver.send(notification)
        except Exception as exc:  # a bug in a receiver must not kill its worker
            log.error("receiver %s raised %s", self.name, type(exc).__name__)
            return False, DeliveryError(f"receiver raised {type(exc).__name__}")

    def _wait_for(self, wait_time: Callable[[], float]) -> bool:
        while True:
            wait = wait_time()
            if wait <= 0:
                return True
            if self.stop.wait(wait):
                return False
