"""The Microsoft Teams receiver, with pymsteams as the transport.

Default: a Workflows webhook ("Post to a channel when a webhook request is received"), which
accepts only an Adaptive Card inside a message envelope and answers 202. Option: the legacy
Office 365 connector MessageCard, for old webhooks. Teams refuses payloads over 28 KB, so the
card is rebuilt with less evidence and fewer incidents until it fits, and says so.
"""

from __future__ import annotations

import json
from typing import Any

import pymsteams
import requests

from notifiers.config import TeamsReceiverConfig
from notifiers.model import IncidentData, Notification, top_severity
from notifiers.receiver import DeliveryError, SendResult, http_result, transport_error
from notifiers.render import (
    SEVERITY_COLOR,
    evidence_text,
    headline,
    incident_title,
    labels_text,
    runbook_url,
    status_line,
    truncate,
)
from notifiers.secret_refs import Secret

MAX_PAYLOAD_BYTES = 28 * 1024
ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_VERSION = "1.4"
_COLOR_NAME = {"critical": "Attention", "high": "Attention", "medium": "Warning"}
# (evidence characters per incident, incidents shown) from richest to barest
_SHRINK_STEPS = ((2000, None), (500, None), (0, None), (0, 3), (0, 1))


def _facts(pairs: list[tuple[str, Any]]) -> list[dict[str, str]]:
    return [{"title": str(k), "value": truncate(str(v), 500)} for k, v in pairs]


def _incident_facts(incident: IncidentData) -> list[tuple[str, Any]]:
    pairs = [
        ("Severity", incident.get("severity", "?")),
        ("Status", incident.get("status", "?")),
        ("Rule", f"{incident.get('rule_id', '?')} ({incident.get('source', 'rule')})"),
        ("Count", incident.get("count", 1)),
        ("First seen", incident.get("first_seen", "?")),
        ("Last seen", incident.get("last_seen", "?")),
        ("Incident", incident.get("id", "?")),
    ]
    if incident.get("group"):
        pairs.append(("Group", labels_text(incident["group"])))
    return pairs


def adaptive_card(
    notification: Notification, max_incidents: int, evidence_chars: int = 2000
) -> dict[str, Any]:
    """The Workflows message envelope holding one Adaptive Card."""
    body = _card_header(notification)
    shown = notification.incidents[:max_incidents]
    body += [_incident_container(incident, evidence_chars) for incident in shown]
    hidden = len(notification.incidents) - len(shown)
    if hidden > 0:
        body.append(
            {"type": "TextBlock", "text": f"+{hidden} more incidents not shown", "wrap": True}
        )
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "version": ADAPTIVE_CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    runbooks = list(dict.fromkeys(url for url in map(runbook_url, shown) if url))
    if runbooks:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Runbook", "url": url} for url in runbooks[:3]
        ]
    return {
        "type": "message",
        "attachments": [
            {"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": card}
        ],
    }


def _card_header(notification: Notification) -> list[dict[str, Any]]:
    """The headline in the colour of the gravest incident, the status, the group's labels."""
    header: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": truncate(headline(notification), 300),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": _COLOR_NAME.get(top_severity(notification), "Accent"),
        },
        {"type": "TextBlock", "text": status_line(notification), "isSubtle": True, "wrap": True},
    ]
    if notification.group_labels:
        facts = _facts(sorted(notification.group_labels.items()))
        header.append({"type": "FactSet", "facts": facts})
    return header


def _incident_container(incident: IncidentData, evidence_chars: int) -> dict[str, Any]:
    """One incident: its title, its facts and (if room is given) its evidence, monospaced."""
    items: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": truncate(incident_title(incident), 300),
            "weight": "Bolder",
            "wrap": True,
        },
        {"type": "FactSet", "facts": _facts(_incident_facts(incident))},
    ]
    evidence = evidence_text(incident)
    if evidence and evidence_chars > 0:
        items.append(
            {
                "type": "TextBlock",
                "text": truncate(evidence, evidence_chars),
                "fontType": "Monospace",
                "wrap": True,
                "size": "Small",
            }
        )
    return {"type": "Container", "separator": True, "items": items}


def message_card(
    notification: Notification, max_incidents: int, evidence_chars: int = 2000
) -> dict[str, Any]:
    """The legacy connector MessageCard, built with pymsteams' card classes."""
    card = pymsteams.connectorcard("http://unused.invalid")
    card.payload["@type"] = "MessageCard"
    card.payload["@context"] = "https://schema.org/extensions"
    card.title(truncate(headline(notification), 300))
    card.summary(truncate(headline(notification), 200))
    card.color(SEVERITY_COLOR.get(top_severity(notification), "9E9E9E"))
    card.text(
        status_line(notification)
        + (f" — {labels_text(notification.group_labels)}" if notification.group_labels else "")
    )
    shown = notification.incidents[:max_incidents]
    for incident in shown:
        section = pymsteams.cardsection()
        section.activityTitle(truncate(incident_title(incident), 300))
        for name, value in _incident_facts(incident):
            section.addFact(name, truncate(str(value), 500))
        evidence = evidence_text(incident)
        if evidence and evidence_chars > 0:
            section.text("```\n" + truncate(evidence, evidence_chars) + "\n```")
        card.addSection(section)
        url = runbook_url(incident)
        if url:
            card.addLinkButton("Runbook", url)
    hidden = len(notification.incidents) - len(shown)
    if hidden > 0:
        card.addSection(pymsteams.cardsection().text(f"+{hidden} more incidents not shown"))
    payload: dict[str, Any] = card.payload
    return payload


def payload_size(payload: dict[str, Any]) -> int:
    """Bytes on the wire, serialised the way requests does it for `json=`."""
    return len(json.dumps(payload).encode("utf-8"))


def fitted_payload(notification: Notification, config: TeamsReceiverConfig) -> dict[str, Any]:
    """The richest card that stays under 28 KB; the last resort cuts the headline texts."""
    build = adaptive_card if config.format == "adaptive_card" else message_card
    payload: dict[str, Any] = {}
    for evidence_chars, incidents in _SHRINK_STEPS:
        payload = build(notification, incidents or config.max_incidents, evidence_chars)
        if payload_size(payload) <= MAX_PAYLOAD_BYTES:
            return payload
    raise ValueError("notification too large for Teams even without evidence")


class TeamsReceiver:
    """Posts to a Teams webhook; 2xx (Workflows answers 202) is delivered."""

    def __init__(self, config: TeamsReceiverConfig, *, timeout: float, webhook_url: Secret) -> None:
        self.name = config.name
        self.min_interval = config.min_interval_seconds
        self._config = config
        self._url = webhook_url
        self._timeout = timeout

    def send(self, notification: Notification) -> SendResult:
        try:
            payload = fitted_payload(notification, self._config)
        except ValueError as exc:
            return False, DeliveryError(str(exc))
        card = pymsteams.connectorcard(self._url.reveal(), http_timeout=self._timeout)
        card.payload = payload
        try:
            card.send()
        except pymsteams.TeamsWebhookException:
            response = card.last_http_response
            if response is None:
                return True, DeliveryError("no response from Teams")
            return http_result(
                response.status_code, response.text, response.headers.get("Retry-After")
            )
        except requests.RequestException as exc:
            return transport_error(exc)
        return False, None

    def close(self) -> None:
        return None
