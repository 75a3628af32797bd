"""The generic webhook receiver: the notification as JSON, signed with HMAC-SHA256.

For anything spanwatch has no channel for (PagerDuty bridges, ticketing, in-house bots). The
receiving side checks `X-Spanwatch-Signature: sha256=<hex>`, the HMAC-SHA256 of
`<timestamp>.<body>` under the shared key, with the timestamp from `X-Spanwatch-Timestamp`
(so a captured request cannot be replayed later), and may use `Idempotency-Key` to drop repeats.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from notifiers.config import WebhookReceiverConfig
from notifiers.model import Notification
from notifiers.receiver import DeliveryError, SendResult, http_result, transport_error
from notifiers.render import headline
from notifiers.secret_refs import Secret

TIMESTAMP_HEADER = "X-Spanwatch-Timestamp"
SIGNATURE_PREFIX = "sha256="


def sign(key: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    digest = hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(
    key: bytes,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now: float,
    tolerance: float = 300.0,
) -> bool:
    """What a receiving service should do: recompute, compare in constant time, check freshness."""
    if not timestamp or not signature:
        return False
    try:
        age = abs(now - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(key, timestamp, body), signature)


def body_of(notification: Notification) -> bytes:
    data = {"headline": headline(notification), **notification.to_dict()}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class WebhookReceiver:
    """POSTs JSON to a URL; 2xx is delivered, 408/429/5xx and network errors are retried."""

    def __init__(
        self,
        config: WebhookReceiverConfig,
        *,
        timeout: float,
        url: Secret | str,
        hmac_key: Secret | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = config.name
        self.min_interval = config.min_interval_seconds
        self._config = config
        self._url = url
        self._key = hmac_key
        self._timeout = timeout
        self._clock = clock

    def send(self, notification: Notification) -> SendResult:
        body = body_of(notification)
        headers = {
            **self._config.headers,
            "Content-Type": "application/json",
            "User-Agent": "spanwatch-notifier",
            "Idempotency-Key": notification.key,
        }
        if self._key is not None:
            timestamp = str(int(self._clock()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[self._config.signature_header] = sign(
                self._key.reveal().encode("utf-8"), timestamp, body
            )
        url = self._url.reveal() if isinstance(self._url, Secret) else self._url
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                return http_result(response.status)
        except urllib.error.HTTPError as exc:
            text = exc.read(500).decode("utf-8", errors="replace")
            return http_result(exc.code, text, exc.headers.get("Retry-After"))
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            return transport_error(exc)
        except ValueError:
            return False, DeliveryError("webhook URL is not valid")

    def close(self) -> None:
        return None
