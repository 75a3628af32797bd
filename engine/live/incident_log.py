"""The live incident log (`state_dir/incident-log.jsonl`): each transition once, on disk.

After a crash the dataflow replays the ticks after its last snapshot and computes the same
transitions again, with the same ids (`<incident id>/<n>`); the lines written since then are
read back at start (the file's tail), so a transition already in the file is not written
twice. A last line torn by the crash is cut off first.

Lines go out with one `write` per batch. When the disk is full the write is cut back and tried
again until there is room: the dataflow waits here (and so takes no snapshot that would count
lines the file does not hold), while the receivers answer 503.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from pathlib import Path

import orjson

from engine.incidents.model import FindingLogData, LogLineData
from engine.live.disk_space import DiskSpace, is_disk_full

log = logging.getLogger("spanwatch")
TAIL_BYTES = 16 << 20  # read back at start: far more than a snapshot interval writes
REMEMBERED = 200_000  # transition ids kept
RETRY_SECONDS = 0.5


class IncidentLogFile:
    def __init__(self, path: Path, disk: DiskSpace | None = None) -> None:
        self.path = path
        self.disk = disk
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.duplicates = 0  # lines not written again after a recovery
        self._repair_and_load()
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size

    def _repair_and_load(self) -> None:
        try:
            f = self.path.open("r+b")
        except FileNotFoundError:
            return
        with f:
            size = f.seek(0, os.SEEK_END)
            start = max(size - TAIL_BYTES, 0)
            f.seek(start)
            tail = f.read()
            cut = tail.rfind(b"\n") + 1
            if cut < len(tail):
                log.warning("incident log: cut a last line torn by a crash off %s", self.path)
                f.truncate(start + cut)
            lines = tail[:cut].split(b"\n")
        for raw in lines[1:] if start else lines:
            if not raw:
                continue
            try:
                ident = orjson.loads(raw).get("id")
            except (orjson.JSONDecodeError, AttributeError):
                continue
            if isinstance(ident, str) and ident:
                self._remember(ident)

    def _remember(self, ident: str) -> bool:
        if ident in self._seen:
            return False
        self._seen[ident] = None
        if len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)
        return True

    def write(
        self, lines: list[LogLineData | FindingLogData]
    ) -> list[LogLineData | FindingLogData]:
        """Append the lines not written before; those are returned (in order)."""
        new = [line for line in lines if not line.get("id") or self._remember(line["id"])]
        self.duplicates += len(lines) - len(new)
        if new:
            self._append(b"".join(orjson.dumps(line) + b"\n" for line in new))
        return new

    def _append(self, data: bytes) -> None:
        warned = 0.0
        while True:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
                self._size += len(data)
                return
            except OSError as exc:
                os.ftruncate(self._fd, self._size)
                if not is_disk_full(exc):
                    raise
                if self.disk is not None:
                    self.disk.found_full()
                if time.monotonic() - warned > 30:
                    log.error("incident log: the disk is full; waiting for room (%s)", exc)
                    warned = time.monotonic()
                time.sleep(RETRY_SECONDS)

    def sync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            log.error("incident log: cannot sync: %s", exc)

    def close(self) -> None:
        if self._fd >= 0:
            self.sync()
            os.close(self._fd)
            self._fd = -1
