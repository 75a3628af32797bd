"""The console receiver: one line per notification for whoever watches the engine's output."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from notifiers.config import ConsoleReceiverConfig
from notifiers.model import Notification
from notifiers.receiver import DELIVERED, DeliveryError, SendResult
from notifiers.render import one_line


class ConsoleReceiver:
    """Writes a readable line (or the notification as one JSON line) to stdout or stderr.

    The stream is looked up at send time unless one is given, so redirections made after
    start-up (and pytest's capture) are honoured.
    """

    def __init__(self, config: ConsoleReceiverConfig, stream: TextIO | None = None) -> None:
        self.name = config.name
        self.min_interval = config.min_interval_seconds
        self._config = config
        self._stream = stream

    def send(self, notification: Notification) -> SendResult:
        stream = self._stream or getattr(sys, self._config.stream)
        if self._config.format == "json":
            line = json.dumps(notification.to_dict(), sort_keys=True, ensure_ascii=False)
        else:
            line = one_line(notification)
        try:
            stream.write(line + "\n")
            stream.flush()
        except (OSError, ValueError) as exc:
            return False, DeliveryError(f"cannot write to {self._config.stream}: {exc}")
        return DELIVERED

    def close(self) -> None:
        return None
