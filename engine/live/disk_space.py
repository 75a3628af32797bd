"""Room on the state directory's disk: checked before anything is taken in or snapshotted.

Everything the live engine keeps is written under `state_dir`: the intake log, the incident
log, Bytewax's recovery store (SQLite) and the notifiers' outbox. When that disk fills up,
the engine must stop taking work, not stop: receivers answer 503 with `Retry-After`
(exporters retry), the live source stops taking from the inbox and holds the dataflow where
it is, so no state snapshot is written into a disk that cannot hold it, and everything
carries on when room comes back.

`low()` is true while less than `reserve` bytes are free, and stays true until twice that
is free again, so that a disk at the edge does not flap.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("spanwatch")
FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
CHECK_EVERY = 0.05  # seconds a statvfs answer is reused


def is_disk_full(exc: BaseException) -> bool:
    """Whether an error means the disk (or the process's file size limit) is full."""
    if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
        return True
    text = str(exc).lower()  # sqlite3 says it in words
    return "disk is full" in text or "database or disk is full" in text


class DiskSpace:
    def __init__(
        self, path: Path, reserve: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self.reserve = reserve
        self.clock = clock
        self._low = False
        self._checked = -1e9
        self._lock = threading.Lock()
        self.full_since: float | None = None  # wall time the disk was last found full

    def free(self) -> int:
        stat = os.statvfs(self.path)
        return stat.f_bavail * stat.f_frsize

    def low(self) -> bool:
        now = self.clock()
        with self._lock:
            if now - self._checked < CHECK_EVERY:
                return self._low
            self._checked = now
            try:
                free = self.free()
            except OSError:
                return self._low
            threshold = self.reserve * 2 if self._low else self.reserve
            was, self._low = self._low, free < threshold
            if self._low and not was:
                self.full_since = time.time()
                log.error("%s", self.reason())
            elif was and not self._low:
                log.warning(
                    "the disk of %s has room again (%d MiB free): taking in", self.path, free >> 20
                )
            return self._low

    def found_full(self) -> None:
        """A write just failed for want of room: low until the next check says otherwise."""
        with self._lock:
            if not self._low:
                self.full_since = time.time()
                log.error("%s", self.reason())
            self._low = True
            self._checked = self.clock()

    def reason(self) -> str:
        return (
            f"the disk of {self.path} is full (under {self.reserve >> 20} MiB free): "
            "spanwatch takes nothing in until there is room again; retry later"
        )
