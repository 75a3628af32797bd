"""One aggregation group's flush, as Alertmanager's notify pipeline runs it for a group:
mute -> dedup -> notify -> escalate -> record, then the next flush is armed (or the group,
empty, is dropped). Each stage is a function of its own; `flush_group` composes them in order.
"""

from __future__ import annotations

from engine.incidents.escalation_steps import Escalations
from engine.incidents.grouping import (
    Decision,
    Members,
    needs_notify,
    notification,
    record_flush,
    sort_members,
)
from engine.incidents.model import Output
from engine.incidents.route_tree import RouteOptions
from engine.incidents.state import Group
from engine.incidents.timers import FLUSH


def flush_group(key: str, at: float, parts: Escalations) -> list[Output]:
    """The FLUSH timer of group `key`; `parts`: the book's incidents, groups, muting, timers."""
    grouping = parts.grouping
    group = grouping.groups.get(key)
    if group is None:
        return []
    options = grouping.options(group)
    members = sort_members(group, parts.incidents, options, parts.muting, at)
    decision = needs_notify(group, members, at, options.repeat_interval)
    out = notify(group, options, members, decision, at, parts) if decision else []
    parts.advance(group, options, members.firing, at)
    record_flush(group, members, sent=decision is not None)
    if group.members:
        parts.timers.schedule(FLUSH, key, at + options.group_interval)
    else:
        del grouping.groups[key]
    return out


def notify(
    group: Group,
    options: RouteOptions,
    members: Members,
    decision: Decision,
    at: float,
    escalations: Escalations,
) -> list[Output]:
    """The notify stage: one message per receiver, and the end of escalations paged."""
    chosen = sorted(members.firing + members.resolved, key=lambda i: i.id)
    payload = [i.to_dict() for i in chosen]
    status = "firing" if members.firing else "resolved"
    out: list[Output] = [
        notification(group, receiver, status, decision.transition, at, payload, decision.repeat)
        for receiver in escalations.receivers(options)
    ]
    out += escalations.resolved_pages(group, members.resolved, at, options)
    group.last_notified_at = at
    return out
