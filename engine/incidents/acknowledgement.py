"""Acknowledging an incident: someone has it, so its escalation stops for good, the log says
who, and whoever was told about it (its groups' receivers, and those its escalation paged)
hears that it is taken, unless it is muted."""

from __future__ import annotations

from engine.incidents.control import Ack
from engine.incidents.escalation_steps import Escalations
from engine.incidents.grouping import notification
from engine.incidents.model import Output, report
from engine.incidents.state import Group, Incident
from engine.timeutil import iso


def acknowledge(
    incident: Incident | None, event: Ack, at: float, escalations: Escalations
) -> list[Output]:
    """Apply an ack to the incident it names (None: not found); always one control report."""
    if incident is None:
        message = f"ack for unknown incident {event.incident}"
        return [report(at, "ack", event.incident, "not_found", message)]
    if not incident.open:
        message = f"ack refused: {incident.id} is resolved"
        return [report(at, "ack", incident.id, "refused", message)]
    if incident.status == "acknowledged":
        message = f"{incident.id} is already acknowledged"
        return [report(at, "ack", incident.id, "unchanged", message)]
    incident.status = "acknowledged"
    incident.acknowledged = {"at": iso(at), "by": event.by}
    if event.comment:
        incident.acknowledged["comment"] = event.comment
    escalations.stop(incident)
    out: list[Output] = [incident.log("incident.acknowledged", at)]
    out += announce(incident, at, escalations)
    message = f"{incident.id} acknowledged by {event.by}"
    out.append(report(at, "ack", incident.id, "applied", message))
    return out


def announce(incident: Incident, at: float, escalations: Escalations) -> list[Output]:
    """Tell whoever was told about the incident that someone has it (unless it is muted)."""
    muting, grouping = escalations.muting, escalations.grouping
    if muting.mutes(incident.route_labels(), at):
        return []
    groups = grouping.groups
    told: dict[str, Group] = {}
    for key in sorted(incident.groups):
        group = groups.get(key)
        if group is None or incident.fingerprint not in group.notified:
            continue
        options = grouping.options(group)
        if muting.route_muted(options, at):
            continue
        for receiver in escalations.receivers(options):
            told.setdefault(receiver, group)
    escalation = incident.escalation
    if escalation is not None and escalation.group in groups:
        for receiver in escalation.paged:
            told.setdefault(receiver, groups[escalation.group])
    payload = [incident.to_dict()]
    return [
        notification(told[r], r, "firing", "incident.acknowledged", at, payload, False)
        for r in sorted(told)
    ]
