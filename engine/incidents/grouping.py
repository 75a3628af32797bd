"""Aggregation groups, as Alertmanager's dispatcher keeps them, and the decision to notify.

Every route an incident matches puts it into a group (route + group_by labels). A group
flushes `group_wait` after it is created, then every `group_interval`. `needs_notify` is the
whole dedup decision of one flush, a pure function of what the group's receivers were told
and what is firing or resolved now (Alertmanager's `needsUpdate`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from engine.incidents.model import SEVERITY_RANK
from engine.incidents.muting import Muting
from engine.incidents.route_tree import (
    RouteNode,
    RouteOptions,
    group_key,
    group_labels,
    match_routes,
)
from engine.incidents.state import Group, Incident
from engine.timeutil import iso
from notifiers.model import IncidentData, Notification


@dataclass
class Members:
    """A group's members sorted at a flush: what to announce and what to drop."""

    firing: list[Incident] = field(default_factory=list)  # unmuted and firing
    resolved: list[Incident] = field(default_factory=list)  # announced before, to say it's over
    done: list[str] = field(default_factory=list)  # fingerprints leaving the group
    muted: set[str] = field(default_factory=set)  # silenced or inhibited now


class Decision(NamedTuple):
    """What a flush announces: the transition named in the message, and whether it repeats."""

    transition: str
    repeat: bool


def needs_notify(
    group: Group, members: Members, at: float, repeat_interval: float
) -> Decision | None:
    """Notify when an incident is new to the receivers or graver than announced, when one
    they heard of resolved, or when `repeat_interval` passed with something still firing."""
    firing = members.firing
    new = [i for i in firing if i.fingerprint not in group.notified]
    graver = [
        i
        for i in firing
        if i.fingerprint in group.notified
        and SEVERITY_RANK[i.severity] > SEVERITY_RANK[group.notified[i.fingerprint]]
    ]
    if new:
        return Decision("incident.opened", False)
    if graver:
        return Decision("incident.updated", False)
    if members.resolved:
        return Decision("incident.resolved", False)
    last = group.last_notified_at
    if firing and last is not None and at >= last + repeat_interval:
        return Decision("incident.updated", True)
    return None


def sort_members(
    group: Group,
    incidents: Mapping[str, Incident],
    options: RouteOptions,
    muting: Muting,
    at: float,
) -> Members:
    """The mute stage of a flush: which members fire, resolved, leave, or are muted now.

    A route muted by time announces nothing and keeps what its receivers know; a silenced or
    inhibited incident is left out and forgotten by them, so that they hear of it again.
    """
    members = Members()
    time_muted = muting.route_muted(options, at)
    for fp in sorted(group.members):
        incident = incidents.get(fp)
        if incident is None or not incident.open:
            members.done.append(fp)
            if (
                incident is not None
                and fp in group.notified
                and options.send_resolved
                and not time_muted
                and not muting.mutes(incident.route_labels(), at)
            ):
                members.resolved.append(incident)
        elif incident.status == "firing" and not time_muted:
            if muting.mutes_firing(incident, at):
                members.muted.add(fp)
            else:
                members.firing.append(incident)
    return members


def record_flush(group: Group, members: Members, sent: bool) -> None:
    """Remember what the receivers know is firing after a flush, and drop departed members.

    Known: announced now, or earlier and not silenced or inhibited since (so that they hear
    of it again when the mute ends); acknowledged incidents stay known so that their
    resolution is announced.
    """
    known = {fp: group.notified[fp] for fp in sorted(group.notified) if fp not in members.muted}
    if sent:
        known.update((i.fingerprint, i.severity) for i in members.firing)
        for incident in members.firing:
            incident.announced = True
    group.notified = {fp: known[fp] for fp in sorted(known) if fp not in members.done}
    for fp in members.done:
        group.members.discard(fp)


def notification(
    group: Group,
    receiver: str,
    status: str,
    transition: str,
    at: float,
    incidents: list[IncidentData],
    repeat: bool,
) -> Notification:
    """One message to one receiver; its key is a digest of what it says, for dedup downstream."""
    level = max((i["escalation_level"] for i in incidents), default=0)
    identity: list[Any] = [group.key, receiver, transition, at]
    identity.append(
        [[i["id"], i["status"], i["severity"], i["escalation_level"]] for i in incidents]
    )
    digest = hashlib.sha256(json.dumps(identity).encode("utf-8")).hexdigest()[:24]
    return Notification(
        key=f"{transition.removeprefix('incident.')}-{digest}",
        receiver=receiver,
        status=status,
        transition=transition,
        at=iso(at),
        group_labels=dict(group.labels),
        incidents=incidents,
        escalation_level=level,
        repeat=repeat,
    )


class Grouping:
    """The route tree and the aggregation groups alive now, by key."""

    def __init__(self, root: RouteNode) -> None:
        self.root = root
        self.routes: dict[str, RouteNode] = {}
        stack = [root]
        while stack:
            node = stack.pop()
            self.routes[node.path] = node
            stack.extend(node.children)
        self.groups: dict[str, Group] = {}

    def options(self, group: Group) -> RouteOptions:
        return self.routes[group.route].options

    def route_options(self, path: str) -> RouteOptions:
        """The options of the route at `path`; the root's when the configuration has no such
        route any more (an escalation started under a route since removed)."""
        node = self.routes.get(path)
        return (node if node is not None else self.root).options

    def reroute(self, root: RouteNode, incidents: Mapping[str, Incident]) -> Grouping:
        """This grouping under another route tree (the configuration given at a restart):
        groups whose route is still there keep their members and what they announced, and take
        that route's options at their next flush; groups of routes now gone are dropped."""
        grouping = Grouping(root)
        grouping.groups = {k: g for k, g in self.groups.items() if g.route in grouping.routes}
        for incident in incidents.values():
            belongs = {key for _node, key in grouping.keys(incident)} if incident.open else None
            for key in sorted(incident.groups):
                group = grouping.groups.get(key)
                if group is not None and (belongs is None or key in belongs):
                    continue
                incident.groups.discard(key)
                if group is not None:  # open, but no longer on that route: it leaves the group
                    group.members.discard(incident.fingerprint)
                    group.notified.pop(incident.fingerprint, None)
        return grouping

    def keys(self, incident: Incident) -> list[tuple[RouteNode, str]]:
        """The routes the incident matches, each with the key of its group there."""
        labels = incident.route_labels()
        found = []
        for node in match_routes(self.root, labels):
            key = group_key(node, labels)
            if incident.storm is not None:  # a storm is announced on its own, once
                key += "|storm"
            found.append((node, key))
        return found

    def join(self, incident: Incident, at: float) -> list[tuple[str, float]]:
        """Add the incident to the group of every route it matches; (key, first flush) of the
        groups this creates."""
        created: list[tuple[str, float]] = []
        labels = incident.route_labels()
        for node, key in self.keys(incident):
            group = self.groups.get(key)
            if group is None:
                group = Group(key, node.path, group_labels(node.options, labels), at)
                self.groups[key] = group
                created.append((key, at + node.options.group_wait))
            group.members.add(incident.fingerprint)
            incident.groups.add(key)
        return created

    def holds(self, incident: Incident) -> bool:
        """Whether a group still counts the incident as a member (it must be remembered)."""
        fp = incident.fingerprint
        return any(fp in self.groups[k].members for k in incident.groups if k in self.groups)
