"""EventBridge: one event per action on a bus (`events:PutEvents`); the bus's rules route it.

The event's `detail` is the action's payload (the incident-log line of the incident, with its
idempotency key), `source` and `detail-type` come from the configuration, and `time` is the
transition's time. PutEvents answers 200 even when an entry is refused, so the entry's own error
is read: throttling and internal failures are retried, anything else is final.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from notifiers.aws_errors import RETRYABLE_CODES
from notifiers.model import Notification
from notifiers.receiver import DELIVERED, DeliveryError, SendResult
from notifiers.render import truncate
from notifiers.responders.config import EventBridgeResponderConfig
from notifiers.responders.responder import Responder


class EventBridgeResponder(Responder):
    kind = "eventbridge"
    service = "events"
    operation = "put_events"
    call = "events:PutEvents"
    check_calls = "events:DescribeEventBus"
    config: EventBridgeResponderConfig

    @property
    def region(self) -> str | None:
        bus = self.config.event_bus
        if self.config.region is None and bus.startswith("arn:"):
            return bus.split(":")[3] or None
        return self.config.region

    def target(self) -> str:
        return f"EventBridge bus {self.config.event_bus!r}"

    def request(self, action: Notification, body: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "Source": self.config.source,
            "DetailType": self.config.detail_type,
            "Detail": body,
            "EventBusName": self.config.event_bus,
        }
        with contextlib.suppress(ValueError):  # else EventBridge stamps the time of the call
            entry["Time"] = dt.datetime.fromisoformat(action.at)
        return {"Entries": [entry]}

    def outcome(self, response: dict[str, Any]) -> SendResult:
        if not response.get("FailedEntryCount"):
            return DELIVERED
        entry = (response.get("Entries") or [{}])[0]
        code = str(entry.get("ErrorCode") or "Failed")
        message = truncate(" ".join(str(entry.get("ErrorMessage") or "").split()), 200)
        error = DeliveryError(f"events {code}" + (f": {message}" if message else ""))
        if "thrott" in code.lower():
            error.status = 429
        return code in RETRYABLE_CODES, error

    def probe(self) -> None:
        self._client.describe_event_bus(Name=self.config.event_bus)
