"""`spanwatch routes test --labels k=v…`: which receivers would an incident with these labels reach?

Like `amtool config routes test`: it walks the same routing tree the engine uses and prints
each matched route with its effective (inherited) options, then the receivers on the last line.
"""

from __future__ import annotations

from typing import TextIO

from engine.incidents.config import IncidentsConfig
from engine.incidents.durations import format_duration
from engine.incidents.route_tree import RouteNode, build_routes, group_labels, match_routes


def routes_test(config: IncidentsConfig, labels: dict[str, str], out: TextIO) -> int:
    """Print the matched routes and receivers; 0 when some receiver is reached, else 1."""
    policies = {policy.name: policy for policy in config.escalation_policies}
    receivers: list[str] = []
    for node in match_routes(build_routes(config), labels):
        out.write(_describe(node, labels) + "\n")
        receivers.extend(node.options.receivers)
        if node.options.escalation is not None:
            for index, level in enumerate(policies[node.options.escalation].levels):
                timeout = format_duration(level.timeout)
                names = ", ".join(level.receivers)
                out.write(f"  escalation level {index}: {names} (after {timeout} unacknowledged)\n")
            receivers.extend(policies[node.options.escalation].levels[0].receivers)
    unique = sorted(set(receivers))
    out.write(("receivers: " + ", ".join(unique) if unique else "no receiver") + "\n")
    return 0 if unique else 1


def _describe(node: RouteNode, labels: dict[str, str]) -> str:
    o = node.options
    grouping = "every label" if o.group_by is None else ", ".join(o.group_by) or "nothing"
    parts = [
        f"route {node.path} {node.describe()}",
        f"receivers: {', '.join(o.receivers) or '-'}",
        f"group_by: {grouping} -> {group_labels(o, labels)}",
        f"group_wait {format_duration(o.group_wait)}",
        f"group_interval {format_duration(o.group_interval)}",
        f"repeat_interval {format_duration(o.repeat_interval)}",
        f"send_resolved {'yes' if o.send_resolved else 'no'}",
    ]
    if o.escalation:
        parts.append(f"escalation {o.escalation}")
    if o.mute_time_intervals:
        parts.append(f"muted during {', '.join(o.mute_time_intervals)}")
    if o.active_time_intervals:
        parts.append(f"active during {', '.join(o.active_time_intervals)}")
    return "; ".join(parts)
