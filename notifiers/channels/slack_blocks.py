"""Block Kit for one notification, within Slack's limits, with Acknowledge/Resolve buttons.

Slack rejects a message whose blocks break its limits (`invalid_blocks`), so every piece of
text is cut here, with a visible mark, before it is sent. Text that came from telemetry is
escaped (`&`, `<`, `>`) so that it cannot turn into a mention such as `<!channel>` or a link.
The buttons' value is the incident id; `notifiers.slack_actions` turns a press back into an
ack or resolve event.
"""

from __future__ import annotations

from typing import Any

from notifiers.model import IncidentData, Notification, top_severity
from notifiers.render import (
    SEVERITY_EMOJI,
    evidence_text,
    headline,
    incident_title,
    runbook_url,
    status_line,
    truncate,
)

MAX_BLOCKS = 50
HEADER_CHARS = 150
SECTION_CHARS = 3000
FIELD_CHARS = 2000
MAX_FIELDS = 10
CONTEXT_CHARS = 2000
BUTTON_TEXT_CHARS = 75
BUTTON_VALUE_CHARS = 2000
FALLBACK_TEXT_CHARS = 3000

ACK_ACTION = "spanwatch_ack"
RESOLVE_ACTION = "spanwatch_resolve"
CLOSED_STATUSES = {"resolved"}


def escape(text: object) -> str:
    """Slack mrkdwn escaping for text we did not write ourselves."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str, limit: int = SECTION_CHARS) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": truncate(text, limit)}


def fallback_text(notification: Notification) -> str:
    """The message's `text`: what notifications and screen readers show."""
    return truncate(
        escape(f"{headline(notification)} — {status_line(notification)}"), FALLBACK_TEXT_CHARS
    )


def _incident_blocks(notification: Notification, incident: IncidentData) -> list[dict[str, Any]]:
    """One incident: its summary and fields, its evidence, its id and runbook, its buttons."""
    blocks = [_summary_block(notification, incident)]
    evidence = evidence_text(incident)
    if evidence:
        fence = "```"
        body = truncate(escape(evidence), SECTION_CHARS - 2 * len(fence) - 1)
        blocks.append({"type": "section", "text": _mrkdwn(f"{fence}{body}{fence}")})
    incident_id = str(incident.get("id", ""))
    context = [f"id `{escape(incident_id)}`"]
    runbook = runbook_url(incident)
    if runbook:
        context.insert(0, f"<{runbook}|Runbook>")
    blocks.append({"type": "context", "elements": [_mrkdwn(" · ".join(context), CONTEXT_CHARS)]})
    open_incident = str(incident.get("status", notification.status)) not in CLOSED_STATUSES
    if incident_id and open_incident and notification.status != "resolved":
        blocks.append(_actions_block(incident, incident_id[:BUTTON_VALUE_CHARS]))
    return blocks


def _summary_block(notification: Notification, incident: IncidentData) -> dict[str, Any]:
    """Title, severity, status and rule, then the counts, times and group as fields."""
    severity = str(incident.get("severity", "info")).lower()
    summary = (
        f"{SEVERITY_EMOJI.get(severity, '')} *{escape(incident_title(incident))}*\n"
        f"severity *{escape(severity)}* · status *{escape(incident.get('status', '?'))}* · "
        f"{escape(incident.get('source', 'rule'))} `{escape(incident.get('rule_id', '?'))}`"
    )
    fields = [
        ("Count", incident.get("count", 1)),
        ("First seen", incident.get("first_seen", "?")),
        ("Last seen", incident.get("last_seen", "?")),
        ("Escalation", incident.get("escalation_level", notification.escalation_level)),
    ]
    fields += sorted((incident.get("group") or {}).items())
    return {
        "type": "section",
        "text": _mrkdwn(summary),
        "fields": [
            _mrkdwn(f"*{escape(name)}*\n{escape(value)}", FIELD_CHARS)
            for name, value in fields[:MAX_FIELDS]
        ],
    }


def _actions_block(incident: IncidentData, value: str) -> dict[str, Any]:
    """Acknowledge (unless it is already) and Resolve, carrying the incident's id."""
    buttons = []
    if incident.get("status") != "acknowledged":
        buttons.append(_button("Acknowledge", ACK_ACTION, value, "primary"))
    buttons.append(_button("Resolve", RESOLVE_ACTION, value, "danger"))
    return {"type": "actions", "block_id": f"incident:{value}"[:255], "elements": buttons}


def _button(text: str, action_id: str, value: str, style: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(text, BUTTON_TEXT_CHARS), "emoji": True},
        "action_id": action_id,
        "value": value,
        "style": style,
    }


def build_message(notification: Notification, max_incidents: int = 5) -> dict[str, Any]:
    """`{"text": ..., "blocks": [...]}` for chat.postMessage, chat.update or a webhook."""
    severity = top_severity(notification)
    title = f"{headline(notification)}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(title, HEADER_CHARS), "emoji": True},
        }
    ]
    group = " · ".join(
        f"*{escape(k)}*={escape(v)}" for k, v in sorted(notification.group_labels.items())
    )
    intro = f"{SEVERITY_EMOJI.get(severity, '')} *{escape(status_line(notification))}*"
    blocks.append({"type": "section", "text": _mrkdwn(intro + (f"\n{group}" if group else ""))})
    shown = notification.incidents[:max_incidents]
    for incident in shown:
        blocks.append({"type": "divider"})
        blocks.extend(_incident_blocks(notification, incident))
    hidden = len(notification.incidents) - len(shown)
    if hidden > 0:
        blocks.append(
            {"type": "context", "elements": [_mrkdwn(f"+{hidden} more incidents not shown")]}
        )
    if len(blocks) > MAX_BLOCKS:
        blocks = blocks[: MAX_BLOCKS - 1]
        blocks.append({"type": "context", "elements": [_mrkdwn("… (truncated: too many blocks)")]})
    return {"text": fallback_text(notification), "blocks": blocks}


def build_reply(notification: Notification) -> dict[str, Any]:
    """A short thread reply that records a later transition under the original message."""
    text = fallback_text(notification)
    return {"text": text, "blocks": [{"type": "section", "text": _mrkdwn(text)}]}
