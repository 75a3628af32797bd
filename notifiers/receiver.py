"""The one interface every channel implements, and how HTTP answers map onto it.

As in Alertmanager's notify package, a receiver only says what happened: `send` returns
`(retryable, error)` with `error is None` meaning delivered. Whether and when to try again is
decided in one place, `notifiers.pipeline`. A `DeliveryError` may carry the server's
`Retry-After`, which the retry stage honours.
"""

from __future__ import annotations

from typing import Protocol

from notifiers.model import Notification

SendResult = tuple[bool, "DeliveryError | None"]
DELIVERED: SendResult = (False, None)


class DeliveryError(Exception):
    """Why one attempt failed. Messages never contain secrets (URLs, tokens)."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def rate_limited(self) -> bool:
        return self.status == 429


class Receiver(Protocol):
    """A channel: turns a (redacted) notification into its own format and sends it once."""

    name: str
    min_interval: float

    def send(self, notification: Notification) -> SendResult: ...

    def close(self) -> None: ...


class ThreadStore(Protocol):
    """Where a chat receiver keeps the message of each incident, to update it or reply to it."""

    def get_thread(self, receiver: str, incident_id: str) -> tuple[str, str] | None: ...

    def put_thread(self, receiver: str, incident_ids: list[str], channel: str, ts: str) -> None: ...


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; HTTP dates are rare here)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def http_result(status: int, body: str = "", retry_after: str | None = None) -> SendResult:
    """Success on 2xx; retry on 408, 425, 429 and 5xx; give up on any other status."""
    if 200 <= status < 300:
        return DELIVERED
    detail = body.strip().replace("\n", " ")[:200]
    message = f"HTTP {status}" + (f": {detail}" if detail else "")
    error = DeliveryError(message, status=status, retry_after=parse_retry_after(retry_after))
    return status in (408, 425, 429) or status >= 500, error


def transport_error(exc: BaseException) -> SendResult:
    """A connection failure or timeout: always worth another try. Only the type is reported,
    because library messages often quote the URL, which may itself be a secret."""
    kind = "timeout" if "timeout" in type(exc).__name__.lower() else "connection error"
    if isinstance(exc, TimeoutError) or "timed out" in str(exc):
        kind = "timeout"
    return True, DeliveryError(f"{kind} ({type(exc).__name__})")
