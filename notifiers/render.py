"""Presentation shared by the channels: headlines, severity marks, runbooks, evidence text."""

from __future__ import annotations

import json
from collections.abc import Mapping

from notifiers.model import IncidentData, Notification, top_severity

SEVERITY_EMOJI = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
    "low": ":large_blue_circle:",
    "info": ":white_circle:",
}
SEVERITY_COLOR = {
    "critical": "D32F2F",
    "high": "F57C00",
    "medium": "FBC02D",
    "low": "1976D2",
    "info": "9E9E9E",
}
TRUNCATION_MARK = "… (truncated)"


def truncate(text: str, limit: int, mark: str = TRUNCATION_MARK) -> str:
    """`text` in at most `limit` characters, ending in a visible mark when it was cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(mark))] + mark


def transition_word(notification: Notification) -> str:
    """`incident.escalated` -> `escalated`."""
    return notification.transition.rsplit(".", 1)[-1]


def incident_title(incident: IncidentData) -> str:
    return str(incident.get("title") or incident.get("rule_id") or "incident")


def headline(notification: Notification) -> str:
    """`[CRITICAL] <title>` plus how many more incidents the group holds."""
    severity = top_severity(notification).upper()
    if not notification.incidents:
        return f"[{severity}] spanwatch notification"
    title = incident_title(notification.incidents[0])
    more = len(notification.incidents) - 1
    suffix = f" (+{more} more)" if more > 0 else ""
    return f"[{severity}] {title}{suffix}"


def status_line(notification: Notification) -> str:
    """`firing · opened · escalation 1` — what happened, in a few words."""
    parts = [notification.status, transition_word(notification)]
    if notification.escalation_level:
        parts.append(f"escalation {notification.escalation_level}")
    if notification.repeat:
        parts.append("reminder")
    return " · ".join(parts)


def runbook_url(incident: IncidentData) -> str | None:
    """A runbook link from the incident or its labels, if it is an http(s) URL."""
    labels = incident.get("labels") or {}
    for candidate in (
        incident.get("runbook"),
        incident.get("runbook_url"),
        labels.get("runbook"),
        labels.get("runbook_url"),
    ):
        if isinstance(candidate, str) and candidate.startswith(("https://", "http://")):
            return candidate
    return None


def evidence_text(incident: IncidentData) -> str:
    """The evidence as indented JSON (already redacted), or empty when there is none."""
    evidence = incident.get("evidence")
    if not evidence:
        return ""
    return json.dumps(evidence, indent=1, sort_keys=True, default=str, ensure_ascii=False)


def labels_text(labels: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def one_line(notification: Notification) -> str:
    """The console form: headline, status, group and incident ids on one line."""
    ids = ",".join(str(i.get("id", "?")) for i in notification.incidents)
    group = labels_text(notification.group_labels)
    text = f"{notification.at} {headline(notification)} — {status_line(notification)}"
    if group:
        text += f" — {group}"
    if ids:
        text += f" — {ids}"
    return text.replace("\n", " ")
