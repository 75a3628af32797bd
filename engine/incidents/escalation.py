"""Escalation policies, as PagerDuty runs them, over an incident's `Escalation` record.

A route with `escalation: POLICY` starts an incident on the policy when it is first announced.
Each level's timeout without acknowledgement moves it one level up; after the last level the
policy starts over `repeat` times. The incident keeps its snapshot of the policy, so a change
of configuration never reshapes an escalation under way.
"""

from __future__ import annotations

from collections import defaultdict

from engine.incidents.config import EscalationPolicy
from engine.incidents.route_tree import RouteOptions
from engine.incidents.state import Escalation, Group, Incident


def start_escalation(policy: EscalationPolicy, group: Group, at: float) -> Escalation:
    """The incident's escalation record at level 0, its first timeout counting from `at`."""
    levels = tuple((tuple(level.receivers), level.timeout) for level in policy.levels)
    return Escalation(
        policy=policy.name,
        levels=levels,
        repeat=policy.repeat,
        group=group.key,
        route=group.route,
        next_at=at + levels[0][1],
        paged=sorted(set(levels[0][0])),
    )


def step_up(state: Escalation, at: float) -> float | None:
    """Move one level up (or start the next round) at `at`; when that level times out, or
    None once the policy is spent."""
    level = state.level + 1
    if level >= len(state.levels):
        if state.round >= state.repeat:
            state.next_at = None  # the policy is exhausted; the incident stays firing
            return None
        state.round += 1
        level = 0
    state.level = level
    state.paged = sorted(set(state.paged) | set(state.levels[level][0]))
    state.next_at = at + state.levels[level][1]
    return state.next_at


def hold(state: Escalation) -> None:
    """Muted when due: wait for the next unmuted flush of its group, then a full timeout."""
    state.next_at = None
    state.held = True


def resume(state: Escalation, at: float) -> float:
    """Release a held escalation at an unmuted flush; when its level times out next."""
    state.held = False
    state.next_at = at + state.levels[state.level][1]
    return state.next_at


def stop(state: Escalation | None) -> None:
    """Acknowledged or resolved: the escalation never moves again."""
    if state is not None:
        state.next_at = None


def level_receivers(state: Escalation, level: int) -> list[str]:
    return sorted(set(state.levels[level][0]))


def paged_beyond(
    group_key: str, resolved: list[Incident], group_receivers: list[str]
) -> dict[str, list[Incident]]:
    """Receivers that escalation paged beyond a group's own, with the resolved incidents each
    must hear are over."""
    extra: dict[str, list[Incident]] = defaultdict(list)
    for incident in resolved:
        escalation = incident.escalation
        if escalation is not None and escalation.group == group_key:
            for receiver in escalation.paged:
                if receiver not in group_receivers:
                    extra[receiver].append(incident)
    return extra


def group_receivers(options: RouteOptions, policies: dict[str, EscalationPolicy]) -> list[str]:
    """A group's receivers: its route's, plus the first level of its escalation policy."""
    receivers = set(options.receivers)
    if options.escalation is not None:
        receivers.update(policies[options.escalation].levels[0].receivers)
    return sorted(receivers)
