"""Escalation stepping over an IncidentBook's parts: a route's policy starts on incidents
first announced, held ones resume at an unmuted flush, due ones move one level up (one page
per group and level), and receivers paged beyond a group hear when its incidents resolve.

`Escalations` is a view: it owns nothing and is built on the book's incidents, groups,
muting and timers whenever the book needs it, so a book's snapshot holds no more than before.
"""

from __future__ import annotations

from collections import defaultdict

from engine.incidents import escalation as esc
from engine.incidents.config import EscalationPolicy
from engine.incidents.grouping import Grouping, notification
from engine.incidents.model import Output
from engine.incidents.muting import Muting
from engine.incidents.route_tree import RouteOptions
from engine.incidents.state import Group, Incident
from engine.incidents.timers import ESCALATE, Timers


class Escalations:
    """Start, hold, resume and step escalations; the pages they send."""

    __slots__ = ("grouping", "incidents", "muting", "policies", "timers")

    def __init__(
        self,
        incidents: dict[str, Incident],
        grouping: Grouping,
        muting: Muting,
        timers: Timers,
        policies: dict[str, EscalationPolicy],
    ) -> None:
        self.incidents = incidents
        self.grouping = grouping
        self.muting = muting
        self.timers = timers
        self.policies = policies

    def receivers(self, options: RouteOptions) -> list[str]:
        """A group's receivers: its route's and the first level of its policy."""
        return esc.group_receivers(options, self.policies)

    def advance(
        self, group: Group, options: RouteOptions, firing: list[Incident], at: float
    ) -> None:
        """Start the route's policy on incidents first announced; resume those held."""
        for incident in firing:
            state = incident.escalation
            if state is None and options.escalation is not None:
                policy = self.policies[options.escalation]
                incident.escalation = esc.start_escalation(policy, group, at)
                self.timers.schedule(ESCALATE, incident.fingerprint, at + policy.levels[0].timeout)
            elif state is not None and state.held and state.group == group.key:
                self.timers.schedule(ESCALATE, incident.fingerprint, esc.resume(state, at))

    def step(self, fingerprints: list[str], at: float) -> list[Output]:
        """Move every incident due at `at` one level up; one page per (group, level)."""
        out: list[Output] = []
        batches: dict[tuple[str, int], list[Incident]] = defaultdict(list)
        pages: dict[tuple[str, int], list[str]] = {}  # receivers of that level of that group
        routes: dict[str, str] = {}  # group key -> its route's path
        for fp in sorted(fingerprints):
            incident = self.incidents.get(fp)
            if incident is None or incident.status != "firing" or incident.escalation is None:
                continue
            state = incident.escalation
            route = self.grouping.route_options(state.route)
            if self.muting.mutes(incident.route_labels(), at, route):
                esc.hold(state)  # resumes with a full timeout once announced again
                continue
            due = esc.step_up(state, at)
            if due is None:
                continue
            incident.escalation_level = state.level
            self.timers.schedule(ESCALATE, fp, due)
            out.append(incident.log("incident.escalated", at))
            batches[(state.group, state.level)].append(incident)
            routes[state.group] = state.route
            pages[(state.group, state.level)] = esc.level_receivers(state, state.level)
        for (key, level), incidents in sorted(batches.items()):
            group = self.grouping.groups.get(key) or Group(key, routes[key], {}, at)
            payload = [i.to_dict() for i in incidents]
            for receiver in pages[(key, level)]:
                out.append(
                    notification(
                        group, receiver, "firing", "incident.escalated", at, payload, False
                    )
                )
        return out

    def resolved_pages(
        self, group: Group, resolved: list[Incident], at: float, options: RouteOptions
    ) -> list[Output]:
        """Tell receivers paged by escalation (beyond the group's own) that it is over."""
        extra = esc.paged_beyond(group.key, resolved, self.receivers(options))
        return [
            notification(
                group,
                r,
                "resolved",
                "incident.resolved",
                at,
                [i.to_dict() for i in extra[r]],
                False,
            )
            for r in sorted(extra)
        ]

    def stop(self, incident: Incident) -> None:
        """Acknowledged or resolved: its escalation never moves again."""
        self.timers.cancel(ESCALATE, incident.fingerprint)
        esc.stop(incident.escalation)
