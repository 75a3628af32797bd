"""From a group notification to actions: one per incident and transition, each with its key.

The incident stage notifies per group: an `incident.opened` notification lists every firing
incident of the group, old and new. An action must run once per incident and transition, so
a responder takes the incidents whose status fits the transition and gives each its own key,
`<transition>:<incident id>` (plus the level for `incident.escalated`). The delivery log
remembers keys, so an incident already acted on is a duplicate the next time its group is
notified, after a retry and after a restart.

AWS services that can drop a repeat get ids derived from the key: the Step Functions execution
name and the SQS FIFO deduplication id (`service_id`). The payload carries the key
(`idempotency_key`) for targets that drop repeats themselves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from notifiers.model import Notification
from notifiers.render import headline

# The incident status each trigger acts on.
STATUS_FOR = {
    "incident.opened": "firing",
    "incident.escalated": "firing",
    "incident.acknowledged": "acknowledged",
    "incident.resolved": "resolved",
}
MAX_PAYLOAD_BYTES = 256 * 1024 - 2048  # AWS's 256 KiB request limit, less the envelope
DRY_RUN_PREFIX = "dry-run:"


def split(
    notification: Notification, transitions: tuple[str, ...], *, dry_run: bool = False
) -> list[Notification]:
    """One single-incident notification per action the responder should run, keyed."""
    transition = notification.transition
    if transition not in transitions:
        return []
    wanted = STATUS_FOR[transition]
    actions = []
    for incident in notification.incidents:
        ident = incident.get("id")
        if not ident or incident.get("status") != wanted:
            continue
        key = f"{transition.removeprefix('incident.')}:{ident}"
        if transition == "incident.escalated":
            key += f":{incident.get('escalation_level', 0)}"
        if dry_run:
            key = DRY_RUN_PREFIX + key  # a dry run never stands in for the real action
        actions.append(
            dataclasses.replace(notification, key=key, incidents=[incident], repeat=False)
        )
    return actions


def idempotency_key(responder: str, action: Notification) -> str:
    """What the target sees: unique per responder, incident and transition, stable forever."""
    return f"{responder}/{action.key}"


def service_id(responder: str, action: Notification, length: int = 64) -> str:
    """The key as a hex digest, for AWS fields with a narrow alphabet or length."""
    digest = hashlib.sha256(idempotency_key(responder, action).encode("utf-8")).hexdigest()
    return digest[:length]


def payload(responder: str, action: Notification, *, evidence: bool = True) -> dict[str, Any]:
    """The incident-log line of the action's incident, with the key and the responder's name."""
    incident = dict(action.incidents[0]) if action.incidents else {}
    if not evidence:
        incident["evidence"] = {}
    data: dict[str, Any] = {
        "type": action.transition,
        "at": action.at,
        "idempotency_key": idempotency_key(responder, action),
        "responder": responder,
        "headline": headline(action),
        "incident": incident,
    }
    if not evidence:
        data["truncated"] = True
    return data


def payload_json(responder: str, action: Notification, limit: int = MAX_PAYLOAD_BYTES) -> str:
    """The payload as JSON within `limit` bytes: without evidence if needed, then a stub that
    still names the incident and carries the key."""
    for evidence in (True, False):
        text = json.dumps(
            payload(responder, action, evidence=evidence), ensure_ascii=False, default=str
        )
        if len(text.encode("utf-8")) <= limit:
            return text
    incident: Mapping[str, Any] = action.incidents[0] if action.incidents else {}
    stub = {
        "type": action.transition,
        "at": action.at,
        "idempotency_key": idempotency_key(responder, action),
        "responder": responder,
        "truncated": True,
        "incident": {
            name: incident.get(name)
            for name in ("id", "fingerprint", "rule_id", "severity", "status")
        },
    }
    return json.dumps(stub, ensure_ascii=False, default=str)
