"""Quarantine: an item that makes a stage fail is put aside with the error and the stage, and
the stage goes on with the next one.

This is the one place where the engine catches an exception for one item: every step that
works item by item (matching an event, placing it in the event-time order, a window or a
detector taking it, the incident book applying a hit or a control event) calls `each` or `run`,
and the last resort around a whole step is `run` too (`engine.flow.bytewax_step`). A stage therefore never dies
for one event, and since a restart replays the same input through the same code, it meets a
poison item only where it met it before, and puts it aside again.

Live, quarantined items go to `state_dir/quarantine.jsonl` (one JSON line each: `id`, `at`,
`stage`, `error`, `item`), written once per item however often a recovery meets it again
(the `id` is a digest of stage, error and item), and are counted in `/healthz`. In replay they
are counted and reported like bad lines.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson

from engine.timeutil import iso

log = logging.getLogger("spanwatch")
T = TypeVar("T")
R = TypeVar("R")
MAX_ITEM_BYTES = 8 << 10  # what a line keeps of the item
REMEMBERED = 100_000  # ids kept to write each item once across recoveries
TAIL_BYTES = 16 << 20  # how much of an existing file is read for those ids at start
EXAMPLES = 100


@dataclass(frozen=True)
class Quarantined:
    stage: str
    error: str
    item: Any  # what could be written of it (JSON)
    at: float

    @property
    def id(self) -> str:
        raw = orjson.dumps([self.stage, self.error, self.item])
        return hashlib.sha256(raw).hexdigest()[:24]

    def describe(self) -> str:
        """One line for a replay's report."""
        text = orjson.dumps(self.item).decode()
        if len(text) > 160:
            text = text[:157] + "..."
        return f"{self.stage}: {self.error}: {text}"


def _describe(item: Any) -> Any:
    try:
        raw = orjson.dumps(item, default=repr, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        raw = orjson.dumps(repr(item))
    if len(raw) > MAX_ITEM_BYTES:
        return {"truncated": raw[:MAX_ITEM_BYTES].decode("utf-8", "replace")}
    return orjson.loads(raw)


class Quarantine:
    """Counts quarantined items by stage, keeps the first few, writes them when given a file."""

    def __init__(self, path: Path | None = None, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self.examples: list[Quarantined] = []
        self.unwritten = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._fd = -1
        if path is not None:
            self._open(path)

    def _open(self, path: Path) -> None:
        try:
            with path.open("rb") as f:
                size = f.seek(0, os.SEEK_END)
                start = max(size - TAIL_BYTES, 0)
                f.seek(start)
                lines = f.read().split(b"\n")
        except FileNotFoundError:
            start, lines = 0, []
        if start:
            lines = lines[1:]  # the first one is cut
        for raw in lines:
            try:
                ident = orjson.loads(raw).get("id")
            except (orjson.JSONDecodeError, AttributeError):
                continue
            if isinstance(ident, str):
                self._remember(ident)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def _remember(self, ident: str) -> bool:
        """False when `ident` was written already."""
        if ident in self._seen:
            return False
        self._seen[ident] = None
        if len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)
        return True

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def put(self, stage: str, item: Any, exc: BaseException) -> None:
        """Put `item` aside: `exc` made `stage` fail on it."""
        entry = Quarantined(
            stage, f"{type(exc).__name__}: {exc}"[:500], _describe(item), self.clock()
        )
        ident = entry.id
        with self._lock:
            if self.path is not None and not self._remember(ident):
                return  # written before the last recovery
            self.counts[stage] += 1
            if len(self.examples) < EXAMPLES:
                self.examples.append(entry)
            if self._fd < 0:
                return
            line = orjson.dumps(
                {
                    "id": ident,
                    "at": iso(entry.at),
                    "stage": stage,
                    "error": entry.error,
                    "item": entry.item,
                }
            )
            try:
                os.write(self._fd, line + b"\n")
            except OSError as failure:
                self.unwritten += 1
                log.error("quarantine: cannot write %s: %s", self.path, failure)
        log.warning("quarantined at %s: %s", stage, entry.error)

    def run(self, stage: str, item: Any, fn: Callable[[], R]) -> tuple[bool, R | None]:
        """(True, fn()) or, when it raised, (False, None) with `item` put aside."""
        try:
            return True, fn()
        except Exception as exc:
            self.put(stage, item, exc)
            return False, None

    def each(self, stage: str, items: Iterable[T], fn: Callable[[T], R]) -> Iterator[tuple[T, R]]:
        """(item, fn(item)) for every item on which `fn` did not raise."""
        for item in items:
            try:
                result = fn(item)
            except Exception as exc:
                self.put(stage, item, exc)
                continue
            yield item, result

    def health(self) -> dict[str, Any]:
        return {"total": self.total, "by_stage": dict(self.counts), "unwritten": self.unwritten}

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
