"""What the incident stage hands to delivery: one notification for one receiver.

The incident stage (engine) decides *whether* and *to whom* to notify; notifiers
decide *how*. A notification is plain data so that it pickles, queues and lands
in a dead-letter file unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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
    incidents: list[dict[str, Any]] = field(default_factory=list)
    escalation_level: int = 0
    repeat: bool = False  # a repeat_interval re-notification

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notification:
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
