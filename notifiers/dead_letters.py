"""The dead-letter file: notifications that could not be delivered, one JSON line each.

Nothing undeliverable is dropped: it lands here with the receiver, the reason and the number of
attempts, and `spanwatch notify retry-dead-letters` sends it again. Writers (the engine's
workers) and the re-sender (the CLI, another process) coordinate through `flock` on a separate
`.lock` file, so that the re-sender can swap the file out without losing a concurrent append.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notifiers.model import NotificationData
from notifiers.timefmt import iso


@dataclass(frozen=True)
class DeadLetter:
    """One line of the file."""

    receiver: str
    reason: str
    attempts: int
    notification: dict[str, Any]  # as read back: a notification's fields, not checked
    dead_lettered_at: str

    def to_line(self) -> str:
        return json.dumps(
            {
                "dead_lettered_at": self.dead_lettered_at,
                "receiver": self.receiver,
                "reason": self.reason,
                "attempts": self.attempts,
                "notification": self.notification,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )


class DeadLetterFile:
    """Append-only JSON lines with a cross-process lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._taken = self.path.with_name(self.path.name + ".retrying")
        self._thread_lock = threading.Lock()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive access across threads and processes."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(
        self, notification: NotificationData, receiver: str, reason: str, attempts: int
    ) -> None:
        letter = DeadLetter(receiver, reason, attempts, {**notification}, iso(time.time()))
        self.append_lines([letter.to_line()])

    def append_lines(self, lines: list[str]) -> None:
        if not lines:
            return
        with self.locked(), open(self.path, "a", encoding="utf-8") as out:
            out.write("".join(line + "\n" for line in lines))
            out.flush()
            os.fsync(out.fileno())

    def read(self, path: Path | None = None) -> list[tuple[int, DeadLetter | str]]:
        """(line number, letter) per line; a malformed line comes back as its raw text."""
        source = path or self.path
        if not source.exists():
            return []
        entries: list[tuple[int, DeadLetter | str]] = []
        with open(source, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                    letter = DeadLetter(
                        receiver=str(data["receiver"]),
                        reason=str(data.get("reason", "")),
                        attempts=int(data.get("attempts", 0)),
                        notification=dict(data["notification"]),
                        dead_lettered_at=str(data.get("dead_lettered_at", "")),
                    )
                except (ValueError, KeyError, TypeError):
                    entries.append((number, line.rstrip("\n")))
                    continue
                entries.append((number, letter))
        return entries

    def take(self) -> Path | None:
        """Moves the current letters aside for re-sending (joining letters left by a re-send
        that crashed) and returns where they are; new letters start a fresh file."""
        with self.locked():
            if self.path.exists():
                if self._taken.exists():
                    with open(self._taken, "a", encoding="utf-8") as out:
                        out.write(self.path.read_text(encoding="utf-8"))
                    self.path.unlink()
                else:
                    os.replace(self.path, self._taken)
        return self._taken if self._taken.exists() else None

    def give_back(self, lines: list[str]) -> None:
        """Appends the letters that still failed and forgets the taken file."""
        self.append_lines(lines)
        with self.locked():
            self._taken.unlink(missing_ok=True)
