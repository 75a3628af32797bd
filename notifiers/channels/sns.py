"""The AWS SNS receiver: one Publish per notification, shaped for every kind of subscriber.

`MessageStructure=json` carries a short `default` (e-mail, SMS, anything unlisted) and the full
notification as JSON for `sqs`, `lambda`, `http` and `https` subscribers. Message attributes
(severity, rule, team, status, transition) let subscriptions filter. FIFO topics get the
incident fingerprint as `MessageGroupId` (per-problem ordering) and the incident and transition
as `MessageDeduplicationId` (a retried Publish is dropped by SNS itself). SNS refuses anything
over 256 KiB, so large notifications are cut, flagged with the `truncated` attribute.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from notifiers import aws_errors
from notifiers.config import SnsReceiverConfig
from notifiers.model import Notification, top_severity
from notifiers.receiver import DELIVERED, SendResult
from notifiers.render import headline, one_line, status_line, truncate

MAX_MESSAGE_BYTES = 256 * 1024
MAX_SUBJECT_CHARS = 100
FULL_FORM_PROTOCOLS = ("sqs", "lambda", "http", "https")
_FIFO_ID_PUNCTUATION = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def subject(notification: Notification, prefix: str) -> str:
    """A printable-ASCII subject of at most 100 characters, as SNS requires."""
    text = f"{prefix} {headline(notification)} - {status_line(notification)}".strip()
    text = "".join(c if " " <= c <= "~" else "?" for c in " ".join(text.split()))
    return truncate(text, MAX_SUBJECT_CHARS, mark="...")


def fifo_id(text: str) -> str:
    """`text` if SNS accepts it as a FIFO id (<=128 alphanumerics/punctuation), else its hash."""
    if 0 < len(text) <= 128 and all(
        (c.isalnum() and c.isascii()) or c in _FIFO_ID_PUNCTUATION for c in text
    ):
        return text
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def attributes(notification: Notification, truncated: bool) -> dict[str, dict[str, str]]:
    """String message attributes for filter policies; empty values are left out (SNS refuses them)."""
    first: Mapping[str, Any] = notification.incidents[0] if notification.incidents else {}
    group = {**(first.get("group") or {}), **notification.group_labels}
    values = {
        "severity": top_severity(notification),
        "rule": str(first.get("rule_id", "")),
        "team": str(group.get("team", "")),
        "status": notification.status,
        "transition": notification.transition,
    }
    if truncated:
        values["truncated"] = "true"
    return {
        name: {"DataType": "String", "StringValue": truncate(value, 256)}
        for name, value in values.items()
        if value
    }


def _full_form(notification: Notification, evidence: bool, incidents: int | None) -> dict[str, Any]:
    data: dict[str, Any] = {**notification.to_dict()}
    shown = data["incidents"][:incidents] if incidents is not None else data["incidents"]
    if not evidence:
        shown = [{**i, "evidence": {}} for i in shown]
    data["incidents"] = shown
    data["headline"] = headline(notification)
    data["truncated"] = not evidence or len(shown) < len(notification.incidents)
    if data["truncated"]:
        data["incidents_total"] = len(notification.incidents)
    return data


def _size(message: str, attrs: dict[str, dict[str, str]]) -> int:
    size = len(message.encode("utf-8"))
    for name, attr in attrs.items():
        size += len(name.encode()) + len(attr["DataType"]) + len(attr["StringValue"].encode())
    return size


def build_publish(notification: Notification, config: SnsReceiverConfig) -> dict[str, Any]:
    """The keyword arguments of `sns.publish`, under the 256 KiB limit."""
    message, attrs = _message_that_fits(notification)
    kwargs: dict[str, Any] = {
        "TopicArn": config.topic_arn,
        "Subject": subject(notification, config.subject_prefix),
        "Message": message,
        "MessageStructure": "json",
        "MessageAttributes": attrs,
    }
    if config.is_fifo:
        first: Mapping[str, Any] = notification.incidents[0] if notification.incidents else {}
        group = str(first.get("fingerprint") or first.get("id") or notification.key)
        incident = str(first.get("id") or notification.key)
        kwargs["MessageGroupId"] = fifo_id(group)
        kwargs["MessageDeduplicationId"] = fifo_id(
            f"{incident}:{notification.transition}:{notification.at}"
        )
    return kwargs


def _message_that_fits(notification: Notification) -> tuple[str, dict[str, Any]]:
    """The message and its attributes: the full form with evidence, else without it, else
    with one incident, else only the default text cut to fit."""
    default = truncate(one_line(notification), 1000)
    for evidence, incidents in ((True, None), (False, None), (False, 1)):
        full = _full_form(notification, evidence, incidents)
        full_json = json.dumps(full, ensure_ascii=False, default=str)
        message = json.dumps(
            {"default": default, **dict.fromkeys(FULL_FORM_PROTOCOLS, full_json)},
            ensure_ascii=False,
        )
        attrs = attributes(notification, full["truncated"])
        if _size(message, attrs) <= MAX_MESSAGE_BYTES:
            return message, attrs
    attrs = attributes(notification, True)
    budget = MAX_MESSAGE_BYTES - _size("", attrs) - 200
    marker = json.dumps(
        {"truncated": True, "headline": headline(notification), "key": notification.key}
    )
    message = json.dumps(
        {
            "default": truncate(default, max(100, budget // 2)),
            **dict.fromkeys(FULL_FORM_PROTOCOLS, marker),
        }
    )
    return message, attrs


class SnsReceiver:
    """Publishes to one topic; botocore's own retries are off so the retry stage decides."""

    def __init__(self, config: SnsReceiverConfig, *, timeout: float) -> None:
        self.name = config.name
        self.min_interval = config.min_interval_seconds
        self._config = config
        region = config.region or config.topic_arn.split(":")[3]
        self._client = aws_errors.client("sns", region, config.endpoint_url, timeout)

    def send(self, notification: Notification) -> SendResult:
        kwargs = build_publish(notification, self._config)
        try:
            self._client.publish(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            return aws_errors.exception_result("SNS", exc)
        return DELIVERED

    def close(self) -> None:
        self._client.close()
