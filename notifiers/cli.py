"""`spanwatch notify retry-dead-letters`: send the dead letters again.

The current letters are moved aside first, so the running engine can keep adding new ones;
each is re-sent through the same stages as live delivery (breaker, pace, retries). Delivered
ones are recorded in the delivery log (a later re-submission stays a duplicate); the ones that
still fail, name an unknown receiver or cannot be read go back into the dead-letter file.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import TextIO

from notifiers.breaker import CircuitBreaker
from notifiers.config import DeliveryConfig, NotifiersConfig
from notifiers.dead_letters import DeadLetter, DeadLetterFile
from notifiers.dispatcher import resolve_path
from notifiers.model import Notification
from notifiers.pipeline import SENT, ReceiverLane, Stats
from notifiers.receiver import Receiver
from notifiers.registry import ReceiverSetupError, build_receivers
from notifiers.retry import RetryPolicy
from notifiers.secret_refs import SecretResolver
from notifiers.store import SENT as LOG_SENT
from notifiers.store import DeliveryStore
from notifiers.timefmt import iso


def retry_dead_letters(
    config: NotifiersConfig,
    state_dir: str | Path,
    out: TextIO,
    *,
    secrets: SecretResolver | None = None,
) -> int:
    """Re-sends every dead letter; exit status 0 when none is left, 1 when some are, 2 when
    the receivers cannot be set up (nothing is touched then)."""
    state_dir = Path(state_dir)
    delivery = config.delivery
    dead = DeadLetterFile(resolve_path(state_dir, delivery.dead_letter_file))
    store = DeliveryStore(resolve_path(state_dir, delivery.delivery_log_file))
    secrets = secrets or SecretResolver()
    try:
        receivers = build_receivers(config, state_dir=state_dir, threads=store, secrets=secrets)
    except ReceiverSetupError as exc:
        out.writelines(f"error: {problem}\n" for problem in exc.problems)
        store.close()
        return 2
    taken = dead.take()
    if taken is None:
        out.write(f"no dead letters in {dead.path}\n")
        store.close()
        return 0
    entries = dead.read(taken)
    lanes = _lanes(receivers, delivery, secrets)
    counts = {"sent": 0, "skipped": 0}
    try:
        kept = _resend_all(dead, entries, lanes, store, out, counts)
    finally:
        for receiver in receivers.values():
            receiver.close()
        store.close()
    out.write(
        f"re-sent {counts['sent']}, already delivered {counts['skipped']}, "
        f"still dead {len(kept)}" + (f" (kept in {dead.path})" if kept else "") + "\n"
    )
    return 1 if kept else 0


def _lanes(
    receivers: dict[str, Receiver], delivery: DeliveryConfig, secrets: SecretResolver
) -> dict[str, ReceiverLane]:
    """A delivery lane per receiver, with the engine's retry policy and circuit breakers."""
    policy, stats, stop = RetryPolicy.from_config(delivery), Stats(), threading.Event()
    return {
        name: ReceiverLane(
            receiver,
            policy,
            CircuitBreaker(delivery.breaker_failure_threshold, delivery.breaker_reset_seconds),
            stats,
            stop,
            secrets.resolved,
        )
        for name, receiver in receivers.items()
    }


def _resend_all(
    dead: DeadLetterFile,
    entries: list[tuple[int, DeadLetter | str]],
    lanes: dict[str, ReceiverLane],
    store: DeliveryStore,
    out: TextIO,
    counts: dict[str, int],
) -> list[str]:
    """Re-sends the letters taken; gives back (and returns) those to keep, with every letter
    not yet handled when something fails."""
    kept: list[str] = []
    done = 0  # entries fully handled: sent, skipped or added to `kept`
    try:
        for number, entry in entries:
            line = _resend(number, entry, lanes, store, out, counts)
            if line is not None:
                kept.append(line)
            done += 1
    finally:
        kept += [_as_line(e) for _, e in entries[done:]]
        dead.give_back(kept)
    return kept


def _resend(
    number: int,
    entry: DeadLetter | str,
    lanes: dict[str, ReceiverLane],
    store: DeliveryStore,
    out: TextIO,
    counts: dict[str, int],
) -> str | None:
    """Re-sends one letter; returns the line to keep in the dead-letter file, if any."""
    if isinstance(entry, str):
        out.write(f"line {number}: unreadable, kept as it is\n")
        return entry
    lane = lanes.get(entry.receiver)
    if lane is None:
        out.write(f"line {number}: no receiver {entry.receiver!r} is configured; kept\n")
        return entry.to_line()
    try:
        notification = Notification.from_dict(entry.notification)
    except TypeError:
        out.write(f"line {number}: not a notification; kept\n")
        return entry.to_line()
    if store.outcome(entry.receiver, notification.key) == LOG_SENT:
        counts["skipped"] += 1
        return None
    result = lane.deliver(notification)
    if result.outcome == SENT:
        store.record(entry.receiver, notification.key, LOG_SENT, result.attempts)
        counts["sent"] += 1
        out.write(f"sent {notification.key} to {entry.receiver}\n")
        return None
    out.write(f"still failing: {notification.key} to {entry.receiver}: {result.error}\n")
    return dataclasses.replace(
        entry,
        reason=result.error or "failed",
        attempts=entry.attempts + result.attempts,
        dead_lettered_at=iso(time.time()),
    ).to_line()


def _as_line(entry: DeadLetter | str) -> str:
    return entry if isinstance(entry, str) else entry.to_line()
