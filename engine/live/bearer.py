"""The one bearer-token check every write endpoint uses (the API and the OTLP receivers)."""

from __future__ import annotations

import hmac


def bearer_matches(header: str | bytes, token: bytes) -> bool:
    """`Bearer <token>`: the scheme in any case, one or more spaces (RFC 7235), the token
    compared in constant time. Text is encoded as UTF-8 (gRPC metadata, Starlette headers)."""
    if isinstance(header, str):
        try:
            header = header.encode()
        except UnicodeEncodeError:  # a lone surrogate: no token can match it
            return False
    scheme, _, given = header.partition(b" ")
    if scheme.lower() != b"bearer":
        return False
    return hmac.compare_digest(given.lstrip(b" "), token)
