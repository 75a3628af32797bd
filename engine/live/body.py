"""Request bodies read with a bound: refused from `Content-Length`, or while streaming, before
more than the limit is ever held in memory; gzip bodies bounded after decompression too.

Every HTTP endpoint of the engine reads its body through here, before any check that needs
the body, so a large or endless upload costs the engine at most `limit` bytes.
"""

from __future__ import annotations

import zlib

from starlette.requests import Request


class RequestRefused(Exception):
    """A request refused with an HTTP status (400, 413, 415) and the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _too_large(limit: int, what: str = "request body") -> RequestRefused:
    return RequestRefused(413, f"{what} over {limit} bytes")


def check_declared_length(request: Request, limit: int) -> None:
    """413 from the Content-Length header alone, before a byte of the body is read."""
    declared = request.headers.get("content-length")
    if declared is None:
        return
    declared = declared.strip()
    if not declared.isdigit():
        raise RequestRefused(400, f"invalid Content-Length {declared[:40]!r}")
    if int(declared) > limit:
        raise _too_large(limit)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, at most `limit` bytes of it (RequestRefused 413 as soon as it is over)."""
    check_declared_length(request, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def decompress(raw: bytes, encoding: str, limit: int) -> bytes:
    """The body after its Content-Encoding (identity or gzip), at most `limit` bytes of it."""
    if encoding in ("", "identity"):
        return raw
    if encoding != "gzip":
        raise RequestRefused(415, f"unsupported Content-Encoding {encoding!r}; use gzip or none")
    stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = stream.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise RequestRefused(400, f"invalid gzip body: {exc}") from None
    if len(data) > limit:
        raise _too_large(limit, "decompressed body")
    if not stream.eof:
        raise RequestRefused(400, "invalid gzip body: truncated")
    return data
