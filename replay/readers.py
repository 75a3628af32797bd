"""Readers for telemetry history: local files and directories or S3 objects and prefixes, holding
JSON lines (plain or gzip) or Parquet.

Two line formats live in history and both are one JSON document per line: the OpenTelemetry
Collector's file exporter (one OTLP/JSON `ExportTraceServiceRequest` or `ExportLogsServiceRequest`
per line) and flat JSON lines (one normalised event per line). Parquet holds flat events, one per
row, and each row is handed on as the flat JSON line it stands for. The readers do not decode:
they yield raw lines with their numbers (a row's number for Parquet), so that `engine/` can decode
and report a bad line by file and line number without this package knowing the event model.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import stat
import zlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import BinaryIO, cast

from replay.history import HistoryError, HistoryFile, StorageReadError, is_s3, one_line

__all__ = [
    "GZIP_MAGIC",
    "HistoryError",
    "HistoryFile",
    "ReadPosition",
    "expand_paths",
    "read_lines",
    "stored_size",
]

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
LINE_BUFFER = 1 << 20


def expand_paths(paths: Sequence[str]) -> list[HistoryFile]:
    """Files in the order given; directories (and `s3://` prefixes) expanded in sorted order.

    Hidden files and directories (name starting with `.`) inside a directory are skipped, a file
    reached twice is read once (at its first place), and every path is checked for existence and
    readability here, so that a typo stops a replay before anything is read.
    """
    files: list[HistoryFile] = []
    seen: set[str] = set()
    for given in paths:
        for found in _expand_s3(given) if is_s3(given) else _expand_one(given):
            key = found.path if is_s3(found.path) else os.path.realpath(found.path)
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


def _expand_s3(given: str) -> list[HistoryFile]:
    from replay.s3 import expand_s3  # boto3 is imported only by those who read S3

    return expand_s3(given)


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


class ReadPosition:
    """How many stored bytes (compressed ones, for gzip) of the file being read have been read,
    for a progress display. Parquet is read by pyarrow from its path and shows 0 until done."""

    def __init__(self) -> None:
        self.stream: BinaryIO | None = None
        self.last = 0

    def tell(self) -> int:
        """Bytes read so far (once the file is closed, as far as it was last seen)."""
        if self.stream is not None:
            with contextlib.suppress(OSError, ValueError):  # closed, or not seekable
                self.last = self.stream.tell()
        return self.last


def stored_size(f: HistoryFile) -> int | None:
    """A local file's size in bytes; None for S3 objects (known once opened) and on error."""
    if is_s3(f.path):
        return None
    try:
        return os.stat(f.path).st_size
    except OSError:
        return None


def read_lines(
    f: HistoryFile, start_line: int = 1, position: ReadPosition | None = None
) -> Iterator[tuple[int, bytes]]:
    """Yield `(line number, raw line)` from `start_line` on, numbers 1-based as in an editor.

    The newline (and a `\\r` before it) is removed and blank lines are skipped but still counted,
    so numbers match the file. Gzip is recognised by its magic bytes; a truncated or corrupt
    gzip stream raises `HistoryError` naming the file and the last line read whole. Parquet
    (`PAR1` magic or a `.parquet` name) yields each row as its flat JSON line, numbered by row.
    """
    number = 0
    try:
        with _open(f) as raw:
            head = raw.read(4)
            raw.seek(0)
            if head == PARQUET_MAGIC or (f.path.endswith(".parquet") and head[:2] != GZIP_MAGIC):
                from replay.parquet import parquet_rows  # pyarrow only for those who read Parquet

                source = raw if is_s3(f.path) else f.path
                yield from parquet_rows(source, f.display, start_line)
                return
            for number, line in enumerate(_text_lines(f, raw, head, position), 1):
                if number < start_line:
                    continue
                line = line.rstrip(b"\r\n")
                if line and not line.isspace():
                    yield number, line
    except (EOFError, zlib.error, gzip.BadGzipFile, StorageReadError, OSError) as exc:
        raise _read_error(f, exc, number) from None


def _text_lines(
    f: HistoryFile, raw: BinaryIO, head: bytes, position: ReadPosition | None
) -> Iterator[bytes]:
    """The raw lines of a text file, gunzipped if it is gzip; `position` follows the bytes read."""
    # an S3 object is a raw stream (S3ObjectReader); a local file is buffered already
    buffered = io.BufferedReader(cast(io.RawIOBase, raw), LINE_BUFFER) if is_s3(f.path) else raw
    if position is not None:
        position.stream = raw
    return iter(_maybe_gunzip(buffered, f, head))


def _read_error(f: HistoryFile, exc: BaseException, number: int) -> HistoryError:
    """A failed read as the one-line error that names the file and the last line read whole."""
    if isinstance(exc, EOFError | zlib.error | gzip.BadGzipFile):
        return HistoryError(
            f"{f.display}: truncated or corrupt gzip data after line {number} ({exc})"
        )
    if isinstance(exc, StorageReadError):
        where = f"after line {number}" if number else "before the first line"
        return HistoryError(f"{f.display}: read failed {where} ({one_line(exc)})")
    return HistoryError(f"{f.display}: read failed after line {number} ({exc})")


def _open(f: HistoryFile) -> AbstractContextManager[BinaryIO]:
    """A local file (buffered by Python) or an S3 object (buffered by its own fetches).

    Local Parquet is reopened by pyarrow from its path (faster than through Python).
    """
    if is_s3(f.path):
        from replay.s3 import S3ObjectReader

        return S3ObjectReader(f.path)  # type: ignore[return-value]
    return open(f.path, "rb")


def _maybe_gunzip(raw: BinaryIO, f: HistoryFile, head: bytes) -> BinaryIO:
    if head[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if head and f.path.endswith(".gz"):
        raise HistoryError(f"{f.display}: not a gzip file (name ends in .gz)")
    return raw
