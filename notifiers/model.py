"""What the incident stage hands to delivery: one notification for one receiver.

The incident stage (engine) decides *whether* and *to whom* to notify; notifiers
decide *how*. A notification is plain data so that it pickles, queues and lands
in a dead-letter file unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict


class IncidentEvidence(TypedDict):
    """An incident's evidence: the samples kept (each `at`, optional `score`, `data`) and how
    many more hits there were."""

    samples: list[dict[str, Any]]
    omitted: int


class IncidentData(TypedDict):
    """An incident as the incident log holds it and notifications carry it
    (docs/architecture.md): the keys every incident has, then those only some have."""

    id: str
    fingerprint: str
    source: str  # "rule" or "detector"
    rule_id: str
    title: str
    severity: str
    status: str  # "firing", "acknowledged" or "resolved"
    group: dict[str, str]
    first_seen: str
    last_seen: str
    count: int
    escalation_level: int
    labels: dict[str, str]
    evidence: IncidentEvidence
    runbook: NotRequired[str]
    folded_into: NotRequired[str]
    inhibited_by: NotRequired[str]
    storm: NotRequired[dict[str, Any]]
    acknowledged: NotRequired[dict[str, str]]
    resolution: NotRequired[dict[str, str]]


class NotificationData(TypedDict):
    """A notification as webhooks receive it and dead-letter files keep it."""

    key: str
    receiver: str
    status: str
    transition: str
    at: str
    group_labels: dict[str, str]
    incidents: list[IncidentData]
    escalation_level: int
    repeat: bool


@dataclass(frozen=True)
class Notification:
    """One message for one receiver about one group of incidents.

    `key` is the idempotency key (unique per group, transition and receiver):
    the delivery log records it so that a restart never sends it twice.
    `incidents` are incident dicts exactly as in the incident log (docs/architecture.md).
    """

    key: str
    receiver: str
    status: str  # "firing" or "resolved"
    transition: str  # incident.opened / .updated / .escalated / .acknowledged / .resolved
    at: str  # RFC 3339 time of the transition
    group_labels: dict[str, str] = field(default_factory=dict)
    incidents: list[IncidentData] = field(default_factory=list)
    escalation_level: int = 0
    repeat: bool = False  # a repeat_interval re-notification

    def to_dict(self) -> NotificationData:
        return {
            "key": self.key,
            "receiver": self.receiver,
            "status": self.status,
            "transition": self.transition,
            "at": self.at,
            "group_labels": dict(self.group_labels),
            "incidents": copy.deepcopy(self.incidents),
            "escalation_level": self.escalation_level,
            "repeat": self.repeat,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notification:
        return cls(**data)


SEVERITIES = ("info", "low", "medium", "high", "critical")


def severity_rank(severity: str) -> int:
    """Position in SEVERITIES (unknown severities rank lowest) so groups show their worst."""
    try:
        return SEVERITIES.index(str(severity).lower())
    except ValueError:
        return -1


def top_severity(notification: Notification) -> str:
    """The highest severity among the notification's incidents ("info" when there are none)."""
    severities = [str(i.get("severity", "info")).lower() for i in notification.incidents]
    return max(severities, key=severity_rank, default="info")


def incident_ids(notification: Notification) -> list[str]:
    """Ids of the incidents in the notification, in order (the first opened the group)."""
    return [str(i["id"]) for i in notification.incidents if i.get("id")]
