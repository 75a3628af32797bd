"""The intake log: what the receivers accepted, on disk before they answer, in segment files.

    state_dir/wal/00000000000000000000.wal   (named by the log position of their first byte)

Receivers `append` a frame and wait: one writer thread writes everything queued since its
last round with one `write` and one `fdatasync` (group commit), then publishes the batch (the
inbox makes it visible to the dataflow, in log order) and wakes the waiters. So a request is
answered only once its events are durable, and a busy engine pays one sync per batch of
requests, never one per event. A write that fails (a full disk) is cut off again and every
waiter of the batch hears the error; nothing of it is published.

Ticks of the live source are written straight away by the source thread (`write_tick`), between
batches; they reach the disk with the next sync, and `sync()` forces one (before a snapshot of
the dataflow refers to them).

Positions are bytes since the log's beginning across segments, so a position names one frame
forever. Segments wholly before the oldest position that a recovery could still need are
deleted (`delete_before`, see `engine.live.wal_retention`). At start the last segment is
checked frame by frame and a tail torn by a crash is cut off; damage anywhere else stops the
start with one line.
"""

from __future__ import annotations

import logging
import os
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from engine.live.wal_format import (
    HEADER,
    TICK,
    Frame,
    FrameError,
    TickInfo,
    encode,
    encode_tick,
    iter_frames,
    read_frame,
    tick_info,
)

log = logging.getLogger("spanwatch")
SUFFIX = ".wal"
SEGMENT_BYTES = 64 << 20


class WalError(Exception):
    """An intake log that cannot be used as it is; one line that says why."""


@dataclass
class QueuedFrame:
    """One frame on its way to the disk; `meta` is the caller's, handed to `on_publish`."""

    kind: int
    time: float
    payload: bytes
    meta: object = None
    seq: int = 0
    pos: int = -1
    error: OSError | None = None
    done: threading.Event = field(default_factory=threading.Event)
    _callbacks: list[Callable[[QueuedFrame], None]] = field(default_factory=list)

    def wait(self, timeout: float | None = None) -> bool:
        """True once durable and published; raises the write's OSError if it failed."""
        if not self.done.wait(timeout):
            return False
        if self.error is not None:
            raise self.error
        return True

    def on_done(self, callback: Callable[[QueuedFrame], None]) -> None:
        """Call `callback(self)` once settled (at once if it is already)."""
        self._callbacks.append(callback)
        if self.done.is_set() and callback in self._callbacks:
            self._callbacks.remove(callback)
            callback(self)

    def _settle(self, error: OSError | None) -> None:
        self.error = error
        self.done.set()
        while self._callbacks:
            self._callbacks.pop()(self)


@dataclass(frozen=True)
class LogState:
    """What a start finds: where writing goes on, the next record number, the last tick."""

    end: int
    next_seq: int
    last_tick: tuple[Frame, TickInfo] | None
    first: int  # the oldest position still held


def _scan_segment(path: Path, base: int, state: LogState, *, last: bool) -> LogState:
    """`state` after the frames of the segment at `base`: a tail torn by a crash is cut off
    the last segment; damage anywhere else is a WalError (records after it would be lost)."""
    end, next_seq, last_tick = base, state.next_seq, state.last_tick
    with path.open("rb") as f:
        try:
            for frame in iter_frames(f, base):
                end = frame.end
                if frame.kind == TICK:
                    last_tick = (frame, tick_info(frame))
                else:
                    next_seq = max(next_seq, frame.seq + 1)
        except FrameError as exc:
            if not last:
                raise WalError(
                    f"{path} is damaged at byte {exc.args[1] - base} ({exc.args[0]}): "
                    "move the wal folder aside to start with an empty intake log"
                ) from None
            _cut_torn_tail(path, base, exc.args[1])
    return LogState(end, next_seq, last_tick, state.first)


def _cut_torn_tail(path: Path, base: int, cut: int) -> None:
    log.warning(
        "intake log: cut a tail torn by a crash off %s (%d bytes from byte %d)",
        path.name,
        path.stat().st_size - (cut - base),
        cut - base,
    )
    with path.open("r+b") as w:
        w.truncate(cut - base)
        os.fsync(w.fileno())


class IntakeLog:
    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = SEGMENT_BYTES,
        on_publish: Callable[[list[QueuedFrame], int], None] | None = None,
        sync: bool = True,
    ) -> None:
        """`on_publish(batch, end)`: called by the writer after each durable batch, in order;
        `end` is the position after the batch. `sync=False` publishes a batch once written,
        without fdatasync: a killed process loses nothing, a machine that stops may."""
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.sync_batches = sync
        self.on_publish = on_publish
        self._lock = threading.Lock()  # the file: writes, rotation, truncation
        self._queue_lock = threading.Condition()
        self._queue: list[QueuedFrame] = []
        self._closed = False
        self._fd = -1
        self._base = 0  # where the active segment starts
        self._end = 0  # where the next frame goes
        self._synced = 0  # everything before this is on disk
        self._next_seq = 1
        self._thread: threading.Thread | None = None
        self._segments: list[tuple[int, Path]] | None = None
        self._segments_lock = threading.Lock()
        self.commits = 0  # batches written and synced
        self.appended = 0  # frames in them
        self.state = self._open()

    # -- start ----------------------------------------------------------------------------------

    def segments(self) -> list[tuple[int, Path]]:
        """(base position, file) of every segment, oldest first."""
        with self._segments_lock:
            if self._segments is None:
                found = []
                for path in self.directory.glob(f"*{SUFFIX}"):
                    stem = path.name[: -len(SUFFIX)]
                    if stem.isdigit():
                        found.append((int(stem), path))
                self._segments = sorted(found)
            return list(self._segments)

    def _segments_changed(self) -> None:
        with self._segments_lock:
            self._segments = None

    def _open(self) -> LogState:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WalError(f"{self.directory}: cannot be made ({exc.strerror or exc})") from None
        segments = self.segments()
        state = LogState(0, 1, None, segments[0][0] if segments else 0)
        for i, (base, path) in enumerate(segments):
            if i and base != state.end:
                raise WalError(
                    f"{path} does not follow the segment before it (expected to start at "
                    f"{state.end}): move the wal folder aside to start with an empty intake log"
                )
            state = _scan_segment(path, base, state, last=i == len(segments) - 1)
        if not segments:
            self._create_segment(0)
        else:
            base, path = segments[-1]
            self._base = base
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._end = self._synced = state.end
        self._next_seq = state.next_seq
        return state

    def _create_segment(self, base: int) -> None:
        path = self.directory / f"{base:020d}{SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._base = fd, base
        self._segments_changed()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._write_loop, name="intake-log", daemon=True)
        self._thread.start()

    # -- writing --------------------------------------------------------------------------------

    @property
    def end(self) -> int:
        with self._lock:
            return self._end

    def append(self, kind: int, time: float, payload: bytes, meta: object = None) -> QueuedFrame:
        """Queue one frame for the next group commit; its `seq` is set at once."""
        pending = QueuedFrame(kind, time, payload, meta)
        with self._queue_lock:
            if self._closed:
                pending._settle(OSError("the intake log is closed"))
                return pending
            pending.seq = self._next_seq
            self._next_seq += 1
            self._queue.append(pending)
            self._queue_lock.notify()
        return pending

    def write_tick(self, time: float, info: TickInfo) -> int:
        """Write a tick now (synced with the next batch); the position after it. OSError when
        it failed."""
        frame = encode_tick(time, info)
        with self._lock:
            self._write_all(frame, self._end)
            return self._end

    def sync(self) -> None:
        """Everything written so far on disk (under the lock: a rotation may not close the file
        meanwhile)."""
        with self._lock:
            if self._end > self._synced:
                os.fdatasync(self._fd)
                self._synced = self._end

    def _write_all(self, data: bytes, pos: int) -> None:
        """Append `data` at `pos` or leave the segment as it was (caller holds the lock)."""
        try:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError:
            try:
                os.ftruncate(self._fd, pos - self._base)
            except OSError as exc:  # cannot even cut it back: the next start will
                log.error("intake log: cannot cut a failed write back: %s", exc)
            raise
        self._end = pos + len(data)

    def _write_loop(self) -> None:
        while True:
            with self._queue_lock:
                while not self._queue and not self._closed:
                    self._queue_lock.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue, []
            try:
                with self._lock:
                    if self._end - self._base >= self.segment_bytes:
                        os.fdatasync(self._fd)
                        self._synced = self._end
                        self._create_segment(self._end)
                    start = pos = self._end
                    chunks = []
                    for pending in batch:
                        pending.pos = pos
                        chunk = encode(pending.kind, pending.seq, pending.time, pending.payload)
                        chunks.append(chunk)
                        pos += len(chunk)
                    self._write_all(b"".join(chunks), start)
                    fd = self._fd
                if self.sync_batches:
                    os.fdatasync(fd)
                self._synced = max(self._synced, pos)
                self.commits += 1
                self.appended += len(batch)
            except OSError as exc:
                for pending in batch:
                    pending._settle(exc)
                continue
            if self.on_publish is not None:
                try:
                    self.on_publish(batch, pos)
                except Exception:  # a bug there must not leave the waiters hanging
                    log.exception("intake log: publishing a batch failed")
            for pending in batch:
                pending._settle(None)

    def close(self) -> None:
        with self._queue_lock:
            self._closed = True
            self._queue_lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            if self._fd >= 0:
                try:
                    os.fdatasync(self._fd)
                except OSError as exc:
                    log.error("intake log: final sync failed: %s", exc)
                os.close(self._fd)
                self._fd = -1

    # -- reading --------------------------------------------------------------------------------

    def frames(self, start: int, stop: int | None = None) -> Iterator[Frame]:
        """Whole frames from position `start` (a frame boundary) up to `stop` (default: all)."""
        segments = self.segments()
        for i, (base, path) in enumerate(segments):
            if i + 1 < len(segments) and segments[i + 1][0] <= start:
                continue
            with path.open("rb") as f:
                offset = max(start - base, 0)
                f.seek(offset)
                pos = base + offset
                while True:
                    if stop is not None and pos >= stop:
                        return
                    try:
                        frame = read_frame(f, pos)
                    except FrameError as exc:
                        raise WalError(f"intake log: damaged at {pos}: {exc}") from None
                    if frame is None:
                        break
                    yield frame
                    pos = frame.end

    def read(self, pos: int) -> Frame:
        """The frame at `pos`; WalError when it is gone or not a frame."""
        segments = self.segments()
        i = bisect_right([base for base, _ in segments], pos) - 1
        for base, path in segments[i : i + 1] if i >= 0 else []:
            if base <= pos:
                try:
                    with path.open("rb") as f:
                        f.seek(pos - base)
                        frame = read_frame(f, pos)
                except (OSError, FrameError) as exc:
                    raise WalError(f"intake log: no frame at {pos}: {exc}") from None
                if frame is None:
                    break
                return frame
        raise WalError(f"intake log: no frame at {pos} (deleted or never written)")

    # -- retention ------------------------------------------------------------------------------

    def delete_before(self, pos: int) -> int:
        """Delete segments that end at or before `pos` (never the one being written)."""
        removed = 0
        segments = self.segments()
        with self._lock:
            active = self._base
        for (base, path), following in pairwise(segments):
            if base >= active or following[0] > pos:
                break
            try:
                path.unlink()
                removed += 1
            except OSError as exc:
                log.warning("intake log: cannot delete %s: %s", path.name, exc)
                break
        if removed:
            self._segments_changed()
        return removed

    @property
    def first(self) -> int:
        segments = self.segments()
        return segments[0][0] if segments else 0

    def held_bytes(self) -> int:
        with self._lock:
            return self._end - self.first


__all__ = ["HEADER", "IntakeLog", "LogState", "QueuedFrame", "WalError"]
