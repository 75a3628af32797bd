"""SQS: one message per action (`sqs:SendMessage`); the body is the payload.

Message attributes (`idempotency_key`, `transition`, `severity`, `rule`) let consumers filter and
drop repeats without parsing the body. A FIFO queue gets the incident's fingerprint as
`MessageGroupId` (one problem's actions in order) and a digest of the key as
`MessageDeduplicationId`, so SQS drops a repeat sent within its five-minute deduplication
window; a standard queue does not drop repeats, so a send in doubt is dead-lettered by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from notifiers.model import Notification, top_severity
from notifiers.render import truncate
from notifiers.responders.actions import idempotency_key, service_id
from notifiers.responders.config import SqsResponderConfig
from notifiers.responders.dry_run import DryRunLog
from notifiers.responders.responder import Responder


class SqsResponder(Responder):
    kind = "sqs"
    service = "sqs"
    operation = "send_message"
    call = "sqs:SendMessage"
    check_calls = "sqs:GetQueueAttributes"
    config: SqsResponderConfig

    def __init__(
        self, config: SqsResponderConfig, *, timeout: float, dry_run_log: DryRunLog
    ) -> None:
        self.deduplicates = config.is_fifo
        super().__init__(config, timeout=timeout, dry_run_log=dry_run_log)

    @property
    def region(self) -> str | None:
        if self.config.region is not None:
            return self.config.region
        host = urlsplit(self.config.queue_url).hostname or ""
        parts = host.split(".")
        if len(parts) >= 4 and parts[0] == "sqs" and parts[-2:] == ["amazonaws", "com"]:
            return parts[1]
        return None

    def target(self) -> str:
        return f"SQS queue {self.config.queue_url!r}"

    def request(self, action: Notification, body: str) -> dict[str, Any]:
        incident: Mapping[str, Any] = action.incidents[0] if action.incidents else {}
        values = {
            "idempotency_key": idempotency_key(self.name, action),
            "transition": action.transition,
            "severity": top_severity(action),
            "rule": str(incident.get("rule_id") or ""),
        }
        params: dict[str, Any] = {
            "QueueUrl": self.config.queue_url,
            "MessageBody": body,
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": truncate(value, 256)}
                for name, value in values.items()
                if value
            },
        }
        if self.config.is_fifo:
            group = str(incident.get("fingerprint") or incident.get("id") or action.key)
            params["MessageGroupId"] = service_id(self.name, action) if len(group) > 128 else group
            params["MessageDeduplicationId"] = service_id(self.name, action)
        return params

    def probe(self) -> None:
        self._client.get_queue_attributes(
            QueueUrl=self.config.queue_url, AttributeNames=["QueueArn"]
        )
