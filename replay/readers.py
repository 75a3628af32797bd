"""Readers for telemetry history: files and directories of JSON lines, gzip read transparently.

Two line formats live in history and both are one JSON document per line: the OpenTelemetry
Collector's file exporter (one OTLP/JSON `ExportTraceServiceRequest` or `ExportLogsServiceRequest`
per line) and flat JSON lines (one normalised event per line). The readers do not decode them:
they yield raw lines with their numbers, so that `engine/` can decode and report a bad line by file
and line number without this package knowing the event model.
"""

from __future__ import annotations

import gzip
import os
import stat
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"


class HistoryError(Exception):
    """A history path that cannot be read; the message is one line meant for the user."""


@dataclass(frozen=True)
class HistoryFile:
    """One file of history: `path` to open, `display` to name it in messages (as the user spelt it)."""

    path: str
    display: str


def expand_paths(paths: Sequence[str]) -> list[HistoryFile]:
    """Files in the order given; directories expanded recursively in sorted order.

    Hidden files and directories (name starting with `.`) inside a directory are skipped, a file
    reached twice is read once (at its first place), and every path is checked for existence and
    readability here, so that a typo stops a replay before anything is read.
    """
    files: list[HistoryFile] = []
    seen: set[str] = set()
    for given in paths:
        for found in _expand_one(given):
            key = os.path.realpath(found.path)
            if key not in seen:
                seen.add(key)
                files.append(found)
    return files


def _expand_one(given: str) -> list[HistoryFile]:
    try:
        info = os.stat(given)
    except FileNotFoundError:
        raise HistoryError(f"{given}: no such file or directory") from None
    except OSError as exc:
        raise HistoryError(f"{given}: cannot read ({exc.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        return _walk_directory(given)
    if not stat.S_ISREG(info.st_mode):
        raise HistoryError(f"{given}: not a regular file or directory")
    _check_readable(given, given)
    return [HistoryFile(path=os.path.abspath(given), display=given)]


def _walk_directory(root: str) -> list[HistoryFile]:
    found: list[tuple[tuple[str, ...], HistoryFile]] = []

    def fail(exc: OSError) -> None:
        where = exc.filename or root
        raise HistoryError(f"{where}: cannot read directory ({exc.strerror})")

    for dirpath, dirnames, filenames in os.walk(root, onerror=fail):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            full = os.path.join(dirpath, name)
            try:
                info = os.stat(full)
            except OSError as exc:
                raise HistoryError(f"{full}: cannot read ({exc.strerror})") from None
            if not stat.S_ISREG(info.st_mode):
                continue
            _check_readable(full, full)
            parts = tuple(os.path.relpath(full, root).split(os.sep))
            found.append((parts, HistoryFile(path=os.path.abspath(full), display=full)))
    found.sort(key=lambda item: item[0])
    return [history_file for _, history_file in found]


def _check_readable(path: str, display: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise HistoryError(f"{display}: cannot read ({exc.strerror})") from None
    os.close(fd)


def read_lines(f: HistoryFile, start_line: int = 1) -> Iterator[tuple[int, bytes]]:
    """Yield `(line number, raw line)` from `start_line` on, numbers 1-based as in an editor.

    The newline (and a `\\r` before it) is removed and blank lines are skipped but still counted,
    so numbers match the file. Gzip is recognised by its magic bytes; a truncated or corrupt
    gzip stream raises `HistoryError` naming the file and the last line read whole.
    """
    number = 0
    try:
        with open(f.path, "rb") as raw:
            stream = _maybe_gunzip(raw, f)
            for number, line in enumerate(stream, 1):
                if number < start_line:
                    continue
                line = line.rstrip(b"\r\n")
                if line and not line.isspace():
                    yield number, line
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise HistoryError(
            f"{f.display}: truncated or corrupt gzip data after line {number} ({exc})"
        ) from None
    except OSError as exc:
        raise HistoryError(f"{f.display}: read failed after line {number} ({exc})") from None


def _maybe_gunzip(raw: BinaryIO, f: HistoryFile) -> BinaryIO:
    head = raw.read(2)
    raw.seek(0)
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if head and f.path.endswith(".gz"):
        raise HistoryError(f"{f.display}: not a gzip file (name ends in .gz)")
    return raw
