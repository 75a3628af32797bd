"""Delivery off the dataflow's hot path: a bounded intake queue, a durable outbox, workers.

    submit() ─► intake queue (bounded, in memory)
                   │  journal thread: drop what the delivery log already has, write the
                   ▼  batch to the outbox (SQLite) in one transaction
                outbox ─► per receiver: worker thread(s) ─► redact ─► ReceiverLane.deliver
                                             ├─ sent          → delivery log
                                             └─ given up      → dead-letter file + delivery log

A responder's notification becomes its actions on the way into the outbox (one per incident and
transition, each with its own key; none when the transition does not trigger it), so the
delivery log drops an action already run however often its group is notified. Before each send
of an action its outbox row is marked in flight; a row still marked at the next start was
interrupted between sending and recording, and is resent or dead-lettered as the responder's
`in_doubt` says.

`accept` writes notifications to the outbox before it returns (the live engine's sink calls it,
so that no state snapshot can count a notification the outbox does not hold yet); while the disk
is full it waits and tries again rather than dead-letter them.

`submit` only puts the notification on the intake queue. When that queue is full (the journal
cannot keep up, e.g. the disk stalls) it waits at most `delivery.submit_block_seconds`, then
writes the notification to the dead-letter file with reason "intake queue full" and returns:
the caller is never held longer, and nothing is lost (`retry-dead-letters` resends it).
A slow receiver's backlog lives in the outbox on disk, not in memory, up to
`delivery.max_backlog` per receiver (beyond that: dead letters, reason "backlog full").

Restarts: the outbox keeps what was accepted but not finished (with its attempt count) and the
delivery log keeps what was finished, so a new Dispatcher on the same state directory resumes
the work and a re-submitted notification with the same key is never sent twice.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from notifiers.breaker import CircuitBreaker
from notifiers.config import NotifiersConfig
from notifiers.dead_letters import DeadLetterFile
from notifiers.model import Notification
from notifiers.pipeline import DEAD, SENT, ReceiverLane, Stats
from notifiers.redaction import Redactor
from notifiers.registry import build_receivers
from notifiers.responders.responder import RESEND, Responder
from notifiers.retry import RetryPolicy
from notifiers.secret_refs import SecretResolver
from notifiers.store import BACKLOG_FULL, DEAD_LETTERED, DUPLICATE, QUEUED, DeliveryStore, OutboxRow
from notifiers.store import SENT as LOG_SENT

log = logging.getLogger("notifiers")

_JOURNAL_BATCH = 500
_IDLE_POLL_SECONDS = 0.5
_JOURNAL_GRACE_SECONDS = 30.0
_FULL_DISK_WAIT_SECONDS = 0.5
_FULL_DISK_WORDS = ("database or disk is full", "disk is full", "no space left")


def _disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError | sqlite3.OperationalError) and any(
        words in str(exc).lower() for words in _FULL_DISK_WORDS
    )


def resolve_path(state_dir: Path, path: str) -> Path:
    """`path` as is when absolute, else under the state directory."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else state_dir / candidate


class Dispatcher:
    """Accepts notifications from the incident stage and delivers them in the background.

    `start()` resolves secrets and builds the receivers (raising ReceiverSetupError with the
    receiver's name if one cannot be built), then resumes the outbox. `close(timeout)` stops
    intake, lets the workers drain for up to `timeout` seconds and leaves the rest in the
    outbox for the next start. `stats` is a snapshot of the counters.
    """

    def __init__(
        self,
        config: NotifiersConfig,
        state_dir: str | Path,
        *,
        secrets: SecretResolver | None = None,
    ) -> None:
        self.config = config
        self.state_dir = Path(state_dir)
        self._secrets = secrets or SecretResolver()
        self._redactor = Redactor(config.redaction)
        self._policy = RetryPolicy.from_config(config.delivery)
        self._intake: queue.Queue[Notification | None] = queue.Queue(config.delivery.queue_size)
        self._stats = Stats()
        self._stop = threading.Event()
        self._closed = False
        self._started = False
        self._threads: list[threading.Thread] = []
        self._lanes: dict[str, ReceiverLane] = {}
        self._wakeups: dict[str, threading.Condition] = {}
        self._in_flight: dict[str, set[int]] = {}
        self.dead_letters = DeadLetterFile(
            resolve_path(self.state_dir, config.delivery.dead_letter_file)
        )
        self.store: DeliveryStore | None = None

    # -- public API ---------------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, Any]:
        """Counters: submitted, queued, sent, retried, failed_attempts, rate_limited,
        breaker_opened, dead_lettered, deduplicated, queue_full, backlog_full,
        unknown_receiver; for responders also not_triggered (a transition that runs no action)
        and in_doubt (interrupted between sending and recording); `pending` (in the outbox);
        `receivers` per receiver and responder."""
        data = self._stats.snapshot()
        data["pending"] = self.store.pending_count() if self.store is not None else 0
        data["intake"] = self._intake.qsize()
        return data

    def start(self) -> None:
        if self._started:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        delivery = self.config.delivery
        store = DeliveryStore(resolve_path(self.state_dir, delivery.delivery_log_file))
        try:
            receivers = build_receivers(
                self.config, state_dir=self.state_dir, threads=store, secrets=self._secrets
            )
        except BaseException:
            store.close()
            raise
        self.store = store
        store.prune(delivery.delivery_log_retention_seconds)
        for name, receiver in receivers.items():
            breaker = CircuitBreaker(
                delivery.breaker_failure_threshold, delivery.breaker_reset_seconds
            )
            self._lanes[name] = ReceiverLane(
                receiver, self._policy, breaker, self._stats, self._stop, self._secrets.resolved
            )
            self._wakeups[name] = threading.Condition()
            self._in_flight[name] = set()
            for index in range(delivery.workers):
                self._spawn(f"notify-{name}-{index}", self._work, name)
        self._journal_thread = self._spawn("notify-journal", self._journal)
        self._started = True

    def submit(self, notification: Notification) -> None:
        """Queues a notification for its receiver; returns in at most submit_block_seconds."""
        if self._closed:
            raise RuntimeError("dispatcher is closed")
        self._stats.add("submitted")
        try:
            self._intake.put(notification, timeout=self.config.delivery.submit_block_seconds)
        except queue.Full:
            self._stats.add("queue_full", notification.receiver)
            self._dead_letter(notification, "intake queue full", 0)

    def accept(self, notifications: list[Notification]) -> None:
        """Into the outbox now, in one transaction; waits while the disk is full."""
        if not notifications:
            return
        if not self._started:
            raise RuntimeError("dispatcher is not started")
        for _ in notifications:
            self._stats.add("submitted")
        self._persist(notifications, wait_for_room=True)

    def close(self, timeout: float = 10.0) -> None:
        """Stops intake, delivers what can be delivered within `timeout`, keeps the rest."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        if not self._started:
            while not self._intake.empty():
                leftover = self._intake.get_nowait()
                if leftover is not None:
                    self._dead_letter(leftover, "dispatcher closed before it was started", 0)
            return
        # Persisting what was accepted is not optional (it is only in memory): the journal
        # drains the intake even past `timeout`, bounded by queue_size and a grace period.
        self._intake.put(None)
        self._journal_thread.join(max(timeout, _JOURNAL_GRACE_SECONDS))
        assert self.store is not None
        while time.monotonic() < deadline and self.store.pending_count() > 0:
            time.sleep(0.01)
        left = self.store.pending_count()
        if left:
            log.info("delivery: %d notifications stay in the outbox for the next start", left)
        self._stop.set()
        for condition in self._wakeups.values():
            with condition:
                condition.notify_all()
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            log.warning("notifier threads still busy at close: %s", ", ".join(stuck))
            return  # they still use the store; the process exit will close it
        for lane in self._lanes.values():
            lane.receiver.close()
        if self.store is not None:
            self.store.close()

    def __enter__(self) -> Dispatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- journal: intake -> outbox --------------------------------------------------------------

    def _journal(self) -> None:
        finished = False
        while not finished:
            try:
                first = self._intake.get(timeout=_IDLE_POLL_SECONDS)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < _JOURNAL_BATCH:
                try:
                    batch.append(self._intake.get_nowait())
                except queue.Empty:
                    break
            finished = None in batch
            self._persist([n for n in batch if n is not None], wait_for_room=True)

    def _expand(self, batch: list[Notification]) -> list[Notification]:
        """Responder notifications replaced by their actions; the rest as they are."""
        out: list[Notification] = []
        for notification in batch:
            lane = self._lanes.get(notification.receiver)
            if lane is None or not isinstance(lane.receiver, Responder):
                out.append(notification)
                continue
            actions = lane.receiver.actions(notification)
            if not actions:
                self._stats.add("not_triggered", notification.receiver)
            out.extend(actions)
        return out

    def _persist(self, batch: list[Notification], *, wait_for_room: bool = False) -> None:
        """Into the outbox (or the dead letters); with `wait_for_room`, a full disk is waited
        out (until the dispatcher stops) instead of dead-lettering the batch."""
        rows, kept = self._rows(batch)
        warned = False
        while not self._store(rows, kept, wait_for_room=wait_for_room and not self._stop.is_set()):
            if not warned:
                log.error("the outbox cannot be written: the disk is full; waiting for room")
                warned = True
            time.sleep(_FULL_DISK_WAIT_SECONDS)

    def _rows(self, batch: list[Notification]) -> tuple[list[tuple[str, str, str]], list[Any]]:
        """Outbox rows of the notifications (responders' as their actions); the rest to the
        dead letters."""
        rows: list[tuple[str, str, str]] = []
        kept: list[Notification] = []
        for notification in self._expand(batch):
            if notification.receiver not in self._lanes:
                self._stats.add("unknown_receiver", notification.receiver)
                self._dead_letter(notification, "no receiver with this name is configured", 0)
                continue
            try:
                body = orjson.dumps(
                    notification, default=str, option=orjson.OPT_NON_STR_KEYS
                ).decode("utf-8")
            except (TypeError, orjson.JSONEncodeError) as exc:
                self._stats.add("unserialisable", notification.receiver)
                self._dead_letter(notification, f"cannot serialise: {type(exc).__name__}", 0)
                continue
            rows.append((notification.receiver, notification.key, body))
            kept.append(notification)
        return rows, kept

    def _store(
        self, rows: list[tuple[str, str, str]], kept: list[Notification], *, wait_for_room: bool
    ) -> bool:
        """False when the disk was full and `wait_for_room` asks to try again."""
        if not rows:
            return True
        assert self.store is not None
        try:
            results = self.store.enqueue_many(rows, self.config.delivery.max_backlog)
        except Exception as exc:  # the disk failed: keep the notifications as dead letters
            if wait_for_room and _disk_full(exc):
                return False
            log.error(
                "cannot write the outbox (%s); dead-lettering %d", type(exc).__name__, len(kept)
            )
            for notification in kept:
                self._dead_letter(notification, f"outbox write failed: {type(exc).__name__}", 0)
            return True
        woken: set[str] = set()
        for notification, result in zip(kept, results, strict=True):
            if result == QUEUED:
                self._stats.add("queued", notification.receiver)
                woken.add(notification.receiver)
            elif result == DUPLICATE:
                self._stats.add("deduplicated", notification.receiver)
            elif result == BACKLOG_FULL:
                self._stats.add("backlog_full", notification.receiver)
                self._dead_letter(notification, "receiver backlog full", 0)
        for name in woken:
            with self._wakeups[name]:
                self._wakeups[name].notify_all()
        return True

    # -- workers: outbox -> receiver ------------------------------------------------------------

    def _work(self, name: str) -> None:
        assert self.store is not None
        lane, wakeup, in_flight = self._lanes[name], self._wakeups[name], self._in_flight[name]
        while not self._stop.is_set():
            with wakeup:
                pending = self.store.next_pending(name, frozenset(in_flight))
                if pending is None:
                    wakeup.wait(_IDLE_POLL_SECONDS)
                    continue
                in_flight.add(pending.seq)
            try:
                self._deliver(lane, pending)
            except Exception as exc:  # e.g. the disk failed: keep the worker alive, try later
                self._stats.add("worker_errors", name)
                log.error("receiver %s: delivery step failed: %s", name, type(exc).__name__)
                self._stop.wait(_IDLE_POLL_SECONDS)
            finally:
                with wakeup:
                    in_flight.discard(pending.seq)

    def _deliver(self, lane: ReceiverLane, pending: OutboxRow) -> None:
        assert self.store is not None
        store = self.store
        try:
            notification = self._redactor.notification(
                Notification.from_dict(orjson.loads(pending.body))
            )
        except (orjson.JSONDecodeError, TypeError, AttributeError):
            log.error("outbox row %d for %s is unreadable; dead-lettered", pending.seq, lane.name)
            self._stats.add("dead_lettered", lane.name)
            self.dead_letters.append_lines([pending.body])  # kept verbatim for a human
            store.finish(pending, DEAD_LETTERED, pending.attempts)
            return
        age = time.time() - pending.enqueued_at
        if age > self.config.delivery.max_pending_age_seconds:
            self._give_up(
                pending, notification, f"not delivered within {age:.0f}s", pending.attempts
            )
            return
        before_send = None
        if isinstance(lane.receiver, Responder):
            if pending.in_flight and not self._resend(lane.receiver, pending, notification):
                return
            before_send = lambda: store.mark_in_flight(pending.seq)  # noqa: E731
        result = lane.deliver(
            notification,
            pending.attempts,
            on_failure=lambda attempts: store.set_attempts(pending.seq, attempts),
            before_send=before_send,
        )
        if result.outcome == SENT:
            store.finish(pending, LOG_SENT, result.attempts)
            self._stats.add("sent", lane.name)
        elif result.outcome == DEAD:
            self._give_up(pending, notification, result.error or "failed", result.attempts)

    def _resend(self, responder: Responder, pending: OutboxRow, notification: Notification) -> bool:
        """Whether to send again a responder's action that a stop may have cut short after it
        ran: only if the responder says so, else given up with the reason."""
        self._stats.add("in_doubt", responder.name)
        if responder.in_doubt != RESEND:
            reason = (
                "in doubt: the last run stopped between sending and recording, so it "
                "may have run; check the target before re-sending"
            )
            self._give_up(pending, notification, reason, pending.attempts)
            return False
        log.warning(
            "responder %s: resending %s after an interrupted send", responder.name, pending.key
        )
        return True

    def _give_up(
        self, pending: OutboxRow, notification: Notification, reason: str, attempts: int
    ) -> None:
        assert self.store is not None
        self._dead_letter(notification, reason, attempts)
        self.store.finish(pending, DEAD_LETTERED, attempts)

    def _dead_letter(self, notification: Notification, reason: str, attempts: int) -> None:
        self._stats.add("dead_lettered", notification.receiver)
        log.warning(
            "notification %s for %s dead-lettered: %s",
            notification.key,
            notification.receiver,
            reason,
        )
        data = self._redactor.notification(notification).to_dict()
        try:
            self.dead_letters.append(data, notification.receiver, reason, attempts)
        except OSError as exc:
            log.error("cannot write the dead-letter file: %s", type(exc).__name__)

    # -- helpers --------------------------------------------------------------------------------

    def _spawn(self, name: str, target: Callable[..., object], *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread
