"""The dry-run file: what a responder in `dry_run` would have called, one JSON line each.

A dry run builds the very request a live run sends (after redaction, with the same idempotency
key and payload) and appends it here instead of calling AWS, so it needs no credentials and
shows exactly what would leave the process.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from notifiers.timefmt import iso


class DryRunLog:
    """Append-only JSON lines; one `write` per record, so concurrent workers never interleave."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(
            {"recorded_at": iso(time.time()), **record},
            ensure_ascii=False,
            separators=(",", ":"),
            default=str,
        )
        data = (line + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
