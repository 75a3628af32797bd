"""The file receiver: the incident log as JSON lines, one line per incident transition.

The line format is the incident log's (docs/architecture.md): `{"type": <transition>, "at": <time>,
"incident": {...}}`, so the same tools read the engine's sink, `replay --out` and this file.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

from notifiers.config import FileReceiverConfig
from notifiers.model import Notification
from notifiers.receiver import DELIVERED, DeliveryError, SendResult

_PERMANENT = {errno.EACCES, errno.EPERM, errno.EISDIR, errno.EROFS, errno.ENOTDIR}


def incident_log_lines(notification: Notification) -> list[str]:
    """One incident-log JSON line per incident of the notification."""
    return [
        json.dumps(
            {"type": notification.transition, "at": notification.at, "incident": incident},
            sort_keys=False,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for incident in notification.incidents
    ]


class FileReceiver:
    """Appends incident-log lines to a file; the lines of one notification go in one write."""

    def __init__(self, config: FileReceiverConfig, state_dir: Path) -> None:
        self.name = config.name
        self.min_interval = config.min_interval_seconds
        path = Path(config.path).expanduser()
        self.path = path if path.is_absolute() else Path(state_dir) / path

    def send(self, notification: Notification) -> SendResult:
        lines = incident_log_lines(notification)
        if not lines:
            return DELIVERED
        data = ("\n".join(lines) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else type(exc).__name__
            return exc.errno not in _PERMANENT, DeliveryError(
                f"cannot append to {self.path}: {reason}"
            )
        return DELIVERED

    def close(self) -> None:
        return None
