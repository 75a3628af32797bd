"""Delivery state that survives restarts, in one SQLite file under the state directory.

- `outbox`: notifications accepted but not yet delivered or dead-lettered. The dispatcher's
  workers take their work from here, so a backlog lives on disk (not in memory) and a restart
  picks up exactly where the last run stopped, retry counts included. A row may be marked
  `in_flight` just before a send and unmarked when the attempt fails: a row still marked at the
  next start was interrupted between sending and recording, so the send may have happened.
- `delivery_log`: the outcome per (notification key, receiver). The key is unique per incident
  group and transition, so a notification seen here is never sent again after a restart.
- `threads`: per (receiver, incident) the chat message to update or reply to (Slack `ts`).

WAL with synchronous=NORMAL: a commit survives the process being killed; one connection behind
a lock, shared by the dispatcher's threads.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SENT = "sent"
DEAD_LETTERED = "dead_lettered"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    receiver TEXT NOT NULL,
    key TEXT NOT NULL,
    body TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    in_flight INTEGER NOT NULL DEFAULT 0,
    UNIQUE (receiver, key)
);
CREATE INDEX IF NOT EXISTS outbox_by_receiver ON outbox (receiver, seq);
CREATE TABLE IF NOT EXISTS delivery_log (
    receiver TEXT NOT NULL,
    key TEXT NOT NULL,
    outcome TEXT NOT NULL,
    at REAL NOT NULL,
    attempts INTEGER NOT NULL,
    PRIMARY KEY (receiver, key)
);
CREATE INDEX IF NOT EXISTS delivery_log_by_time ON delivery_log (at);
CREATE TABLE IF NOT EXISTS threads (
    receiver TEXT NOT NULL,
    incident TEXT NOT NULL,
    channel TEXT NOT NULL,
    ts TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (receiver, incident)
);
"""

QUEUED = "queued"
DUPLICATE = "duplicate"
BACKLOG_FULL = "backlog_full"


@dataclass(frozen=True)
class OutboxRow:
    """One outbox row."""

    seq: int
    receiver: str
    key: str
    body: str
    enqueued_at: float
    attempts: int
    in_flight: bool = False  # marked by a run that stopped between sending and recording


class DeliveryStore:
    """The outbox, the delivery log and chat threads; every method is one short transaction."""

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
        if "in_flight" not in columns:  # a state directory from before the column existed
            self._db.execute("ALTER TABLE outbox ADD COLUMN in_flight INTEGER NOT NULL DEFAULT 0")
        self._backlog: Counter[str] = self._count_backlog()

    # -- outbox -------------------------------------------------------------------------------

    def enqueue_many(
        self, items: list[tuple[str, str, str]], max_backlog: int | None = None
    ) -> list[str]:
        """Adds (receiver, key, body) rows; per row QUEUED, DUPLICATE or BACKLOG_FULL."""
        now = self._clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                results = [self._enqueue_one(row, now, max_backlog) for row in items]
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._backlog = self._count_backlog()
                raise
        return results

    def _enqueue_one(self, row: tuple[str, str, str], now: float, max_backlog: int | None) -> str:
        """One row inside `enqueue_many`'s transaction (the lock held)."""
        receiver, key, body = row
        done = self._db.execute(
            "SELECT 1 FROM delivery_log WHERE receiver = ? AND key = ?", (receiver, key)
        ).fetchone()
        if done:
            return DUPLICATE
        if max_backlog is not None and self._backlog[receiver] >= max_backlog:
            return BACKLOG_FULL
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO outbox (receiver, key, body, enqueued_at) VALUES (?, ?, ?, ?)",
            (receiver, key, body, now),
        )
        if not cursor.rowcount:
            return DUPLICATE
        self._backlog[receiver] += 1
        return QUEUED

    def _count_backlog(self) -> Counter[str]:
        """Outbox rows per receiver, as the database holds them."""
        rows = self._db.execute("SELECT receiver, COUNT(*) FROM outbox GROUP BY receiver")
        return Counter(dict(rows.fetchall()))

    def next_pending(
        self, receiver: str, exclude: frozenset[int] = frozenset()
    ) -> OutboxRow | None:
        """The oldest outbox row of `receiver` whose seq is not in `exclude` (being worked on)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, receiver, key, body, enqueued_at, attempts, in_flight FROM outbox "
                "WHERE receiver = ? ORDER BY seq LIMIT ?",
                (receiver, len(exclude) + 1),
            ).fetchall()
        for row in rows:
            if row[0] not in exclude:
                seq, receiver, key, body, enqueued_at, attempts, in_flight = row
                return OutboxRow(seq, receiver, key, body, enqueued_at, attempts, bool(in_flight))
        return None

    def set_attempts(self, seq: int, attempts: int) -> None:
        """Records a failed attempt (which also ends its in-flight mark)."""
        with self._lock:
            self._db.execute(
                "UPDATE outbox SET attempts = ?, in_flight = 0 WHERE seq = ?", (attempts, seq)
            )

    def mark_in_flight(self, seq: int) -> None:
        """Committed before a send whose repetition matters, so a crash leaves it in doubt."""
        with self._lock:
            self._db.execute("UPDATE outbox SET in_flight = 1 WHERE seq = ?", (seq,))

    def finish(self, pending: OutboxRow, outcome: str, attempts: int) -> None:
        """Records the outcome in the delivery log and removes the row, in one transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO delivery_log (receiver, key, outcome, at, attempts) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (pending.receiver, pending.key, outcome, self._clock(), attempts),
                )
                cursor = self._db.execute("DELETE FROM outbox WHERE seq = ?", (pending.seq,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            if cursor.rowcount:
                self._backlog[pending.receiver] -= 1

    def pending_count(self, receiver: str | None = None) -> int:
        with self._lock:
            if receiver is None:
                return sum(self._backlog.values())
            return self._backlog[receiver]

    # -- delivery log -------------------------------------------------------------------------

    def outcome(self, receiver: str, key: str) -> str | None:
        """SENT, DEAD_LETTERED or None for a notification key and receiver."""
        with self._lock:
            row = self._db.execute(
                "SELECT outcome FROM delivery_log WHERE receiver = ? AND key = ?", (receiver, key)
            ).fetchone()
        return row[0] if row else None

    def record(self, receiver: str, key: str, outcome: str, attempts: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO delivery_log (receiver, key, outcome, at, attempts) "
                "VALUES (?, ?, ?, ?, ?)",
                (receiver, key, outcome, self._clock(), attempts),
            )

    def prune(self, older_than_seconds: float) -> int:
        """Forgets delivery-log entries and threads older than the retention; returns how many."""
        cutoff = self._clock() - older_than_seconds
        with self._lock:
            removed = self._db.execute("DELETE FROM delivery_log WHERE at < ?", (cutoff,)).rowcount
            self._db.execute("DELETE FROM threads WHERE at < ?", (cutoff,))
        return removed

    # -- chat threads -------------------------------------------------------------------------

    def get_thread(self, receiver: str, incident_id: str) -> tuple[str, str] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT channel, ts FROM threads WHERE receiver = ? AND incident = ?",
                (receiver, incident_id),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def put_thread(self, receiver: str, incident_ids: list[str], channel: str, ts: str) -> None:
        now = self._clock()
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO threads (receiver, incident, channel, ts, at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(receiver, i, channel, ts, now) for i in incident_ids],
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
