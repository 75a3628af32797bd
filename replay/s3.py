"""History in S3: `s3://bucket/key` (one object) and `s3://bucket/prefix/` (every object under it).

Everything goes through boto3's default chain, so credentials, region and endpoint come from the
environment alone (`AWS_ACCESS_KEY_ID`…, `AWS_PROFILE`, instance roles, `AWS_REGION`,
`AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3`); nothing here reads or logs a secret. Locations are
checked when they are expanded, so a typo stops a replay before anything is read, and every
failure is one line naming the location. Objects are read with ranged GETs pinned to the ETag
seen when the object was opened: memory stays bounded, Parquet can seek, and an object replaced
mid-read is an error instead of a silent mix of two versions.
"""

from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions as bce
from botocore.config import Config

from replay.history import S3_SCHEME, HistoryError, HistoryFile, StorageReadError, is_s3, one_line

MIN_FETCH = 256 << 10  # a jump (Parquet seeking) fetches this much at least
MAX_FETCH = 16 << 20  # sequential reading doubles its fetches up to this
BODY_RETRIES = 2  # a connection dropped mid-body is fetched again; botocore retries the rest
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4}, connect_timeout=10, read_timeout=60
)

NOT_FOUND = ("NoSuchKey", "404", "NotFound")

_clients: dict[tuple[tuple[str, str], ...], Any] = {}
_clients_lock = threading.Lock()


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str  # "" for the whole bucket

    @property
    def url(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.key}"


def parse_s3_url(url: str) -> S3Location:
    """`s3://bucket/key` -> its parts; the key is taken as written (S3 URLs are not escaped)."""
    if not is_s3(url):
        raise HistoryError(f"{url}: not an s3:// location")
    bucket, _, key = url[len(S3_SCHEME) :].partition("/")
    if not bucket:
        raise HistoryError(f"{url}: no bucket name (use s3://bucket/key or s3://bucket/prefix/)")
    return S3Location(bucket, key)


def client() -> Any:
    """One S3 client per AWS environment (clients are thread-safe and slow to make)."""
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    with _clients_lock:
        made = _clients.get(env)
        if made is None:
            made = boto3.session.Session().client("s3", config=CLIENT_CONFIG)
            _clients.clear()  # only the current environment's client is kept
            _clients[env] = made
        return made


def explain(exc: Exception) -> str:
    """A boto3/botocore failure -> a few words for the user (never the credentials)."""
    if isinstance(exc, bce.NoCredentialsError):
        return (
            "no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE, or run with an instance or task role)"
        )
    if isinstance(exc, bce.PartialCredentialsError):
        return f"incomplete AWS credentials ({one_line(exc)})"
    if isinstance(exc, bce.ParamValidationError):
        bad_bucket = re.search(r'Invalid bucket name "([^"]*)"', str(exc))
        return f"invalid bucket name {bad_bucket[1]!r}" if bad_bucket else one_line(exc)
    if isinstance(exc, bce.ProfileNotFound):
        return one_line(exc)
    if isinstance(exc, bce.EndpointConnectionError | bce.ConnectTimeoutError):
        return f"cannot reach S3 ({one_line(exc)})"
    if isinstance(exc, bce.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code == "NoSuchBucket":
            return "no such bucket"
        if code in NOT_FOUND:
            return "no such key"
        if code in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled"):
            return "access denied"
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"):
            return f"AWS credentials rejected ({code})"
        if code in ("PreconditionFailed", "412"):
            return "the object changed while it was being read"
        message = one_line(error.get("Message", "")) or "no message"
        return f"S3 error {code}: {message}"
    if isinstance(exc, bce.BotoCoreError):
        return one_line(exc)
    return f"{type(exc).__name__}: {one_line(exc)}"


def _not_found(exc: bce.ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in NOT_FOUND


def _fail(where: str, exc: Exception) -> HistoryError:
    return HistoryError(f"{where}: {explain(exc)}")


AWS_ERRORS = (bce.BotoCoreError, bce.ClientError)


def expand_s3(url: str) -> list[HistoryFile]:
    """One object, or every object under a prefix sorted by key as a directory would be.

    `s3://b/k` is the object `k` if there is one, else the "directory" `k/`; `s3://b/p/` and
    `s3://b` are prefixes. Under a prefix, names with a path part starting with `.` and folder
    markers (keys ending in `/`) are skipped. Raises `HistoryError` for a missing bucket, key or
    prefix, denied access, missing or rejected credentials, before anything is read.
    """
    where = parse_s3_url(url)
    try:
        s3 = client()
        if where.key and not where.key.endswith("/"):
            try:
                s3.head_object(Bucket=where.bucket, Key=where.key)
                return [HistoryFile(path=where.url, display=url)]
            except bce.ClientError as exc:
                if not _not_found(exc):
                    raise
            prefix = where.key + "/"
        else:
            prefix = where.key
        keys = sorted(_listed_keys(s3, where.bucket, prefix), key=lambda k: k.split("/"))
        if not keys:
            raise HistoryError(f"{url}: {_nothing_found(where, prefix)}")
        # Permissions to list and to read differ; one object tells whether reading is allowed.
        s3.head_object(Bucket=where.bucket, Key=prefix + keys[0])
    except AWS_ERRORS as exc:
        raise _fail(url, exc) from None
    shown = url if url.endswith("/") else url + "/"
    return [
        HistoryFile(path=f"{S3_SCHEME}{where.bucket}/{prefix}{k}", display=shown + k) for k in keys
    ]


def _nothing_found(where: S3Location, prefix: str) -> str:
    if not where.key:
        return "the bucket is empty"
    if where.key.endswith("/"):
        return "no objects under this prefix"
    return "no such key or prefix"


def _listed_keys(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    """Keys under `prefix`, relative to it, without hidden parts or folder markers."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", ()):
            relative = item["Key"][len(prefix) :]
            if not relative or relative.endswith("/"):
                continue
            if any(part.startswith(".") for part in relative.split("/")):
                continue
            yield relative


class S3ObjectReader(io.RawIOBase):
    """A seekable, read-only file over one S3 object, read in ranged GETs.

    Reading on from where the last fetch ended doubles the next fetch (up to `MAX_FETCH`), so a
    sequential read makes few requests; a seek (Parquet jumping between column chunks) starts
    again at `MIN_FETCH`. One fetched block is held at a time. Failures raise
    `StorageReadError` (an `OSError`) with one line.
    """

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        where = parse_s3_url(url)
        self._bucket, self._key = where.bucket, where.key
        try:
            self._s3 = client()
            head = self._s3.head_object(Bucket=self._bucket, Key=self._key)
        except AWS_ERRORS as exc:
            raise StorageReadError(explain(exc)) from None
        self.size: int = head["ContentLength"]
        self._etag: str = head["ETag"]
        self._pos = 0
        self._block = b""
        self._block_start = 0
        self._fetch = MIN_FETCH

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._read_some(len(view))
        view[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        """Exactly `size` bytes unless the object ends first (pyarrow relies on it)."""
        if size is None or size < 0:
            size = self.size - self._pos
        parts = []
        while size > 0:
            data = self._read_some(size)
            if not data:
                break
            parts.append(data)
            size -= len(data)
        return b"".join(parts)

    def readall(self) -> bytes:
        return self.read(-1)

    def _read_some(self, size: int) -> bytes:
        if size <= 0 or self._pos >= self.size:
            return b""
        offset = self._pos - self._block_start
        if not 0 <= offset < len(self._block):
            block_end = self._block_start + len(self._block)
            sequential = bool(self._block) and self._pos == block_end
            self._fetch = min(self._fetch * 2, MAX_FETCH) if sequential else MIN_FETCH
            self._load(self._pos, max(size, self._fetch))
            offset = 0
        data = self._block[offset : offset + size]
        self._pos += len(data)
        return data

    def _load(self, start: int, length: int) -> None:
        end = min(start + length, self.size) - 1
        for attempt in range(BODY_RETRIES + 1):
            try:
                response = self._s3.get_object(
                    Bucket=self._bucket,
                    Key=self._key,
                    Range=f"bytes={start}-{end}",
                    IfMatch=self._etag,
                )
                data = response["Body"].read()
            except AWS_ERRORS as exc:
                # a dropped body (botocore's read errors) is worth another try; S3's answers not
                if isinstance(exc, bce.ClientError) or attempt == BODY_RETRIES:
                    raise StorageReadError(explain(exc)) from None
                continue
            if len(data) != end - start + 1:
                if attempt == BODY_RETRIES:
                    raise StorageReadError(
                        f"short read at byte {start}: {len(data)} of {end - start + 1} bytes"
                    )
                continue
            self._block, self._block_start = data, start
            return
