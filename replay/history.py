"""What every history reader shares: the file it reads and the one-line error it raises."""

from __future__ import annotations

from dataclasses import dataclass

S3_SCHEME = "s3://"


class HistoryError(Exception):
    """A history path that cannot be read; the message is one line meant for the user."""


class StorageReadError(OSError):
    """The storage under a file failed (a network read, say), not the file's content."""


@dataclass(frozen=True)
class HistoryFile:
    """One file of history: `path` to open, `display` to name it in messages (as the user spelt it).

    `path` is an absolute local path or an `s3://bucket/key` URL of one object.
    """

    path: str
    display: str


def one_line(text: object) -> str:
    """Library messages (pyarrow, botocore) may span lines; ours never do."""
    return " ".join(str(text).split())


def is_s3(path: str) -> bool:
    """An `s3://` location (the scheme in any case, as the AWS CLI takes it)."""
    return path[: len(S3_SCHEME)].lower() == S3_SCHEME
