"""The routing tree, compiled from RouteConfig into frozen nodes with inherited options resolved.

Matching is Alertmanager's `Route.Match`: a node matches when its matchers do; its children are
tried in order, a matching child stops the search unless it has `continue: true`; when no child
matches, the node itself is the match.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from engine.incidents.config import DEFAULT_RECEIVERS, IncidentsConfig, RouteConfig
from engine.incidents.matchers import Matcher, matches_all

GROUP_BY_ALL = "..."


@dataclass(frozen=True)
class RouteOptions:
    """What a matched route decides for the incidents it takes (inheritance already applied)."""

    receivers: tuple[str, ...]
    group_by: tuple[str, ...] | None  # None: group by every label
    group_wait: float
    group_interval: float
    repeat_interval: float
    send_resolved: bool
    mute_time_intervals: tuple[str, ...]
    active_time_intervals: tuple[str, ...]
    escalation: str | None


@dataclass(frozen=True)
class RouteNode:
    path: str  # "root", "root.0", "root.0.2": stable while the configuration is unchanged
    matchers: tuple[Matcher, ...]
    continue_: bool
    options: RouteOptions
    children: tuple[RouteNode, ...]

    def describe(self) -> str:
        return "{" + ", ".join(str(m) for m in self.matchers) + "}"


_ROOT_DEFAULTS = RouteOptions(
    receivers=DEFAULT_RECEIVERS,
    group_by=("rule_id",),
    group_wait=30.0,
    group_interval=300.0,
    repeat_interval=14400.0,
    send_resolved=True,
    mute_time_intervals=(),
    active_time_intervals=(),
    escalation=None,
)


def build_routes(config: IncidentsConfig) -> RouteNode:
    """The compiled tree of `config.route`."""
    return _build(config.route, _ROOT_DEFAULTS, "root")


def _build(route: RouteConfig, parent: RouteOptions, path: str) -> RouteNode:
    group_by = parent.group_by
    if route.group_by is not None:
        group_by = None if GROUP_BY_ALL in route.group_by else tuple(route.group_by)
    options = RouteOptions(
        receivers=tuple(route.receiver) if route.receiver is not None else parent.receivers,
        group_by=group_by,
        group_wait=_pick(route.group_wait, parent.group_wait),
        group_interval=_pick(route.group_interval, parent.group_interval),
        repeat_interval=_pick(route.repeat_interval, parent.repeat_interval),
        send_resolved=_pick(route.send_resolved, parent.send_resolved),
        mute_time_intervals=tuple(route.mute_time_intervals),
        active_time_intervals=tuple(route.active_time_intervals),
        escalation=_pick(route.escalation, parent.escalation),
    )
    children = tuple(
        _build(child, options, f"{path}.{index}") for index, child in enumerate(route.routes)
    )
    return RouteNode(path, tuple(route.matchers), route.continue_, options, children)


T = TypeVar("T")


def _pick(value: T | None, inherited: T) -> T:
    return inherited if value is None else value


def match_routes(node: RouteNode, labels: Mapping[str, str]) -> list[RouteNode]:
    """The routes an incident with `labels` takes, in tree order."""
    if not matches_all(node.matchers, labels):
        return []
    found: list[RouteNode] = []
    for child in node.children:
        matched = match_routes(child, labels)
        found.extend(matched)
        if matched and not child.continue_:
            break
    return found or [node]


def group_labels(options: RouteOptions, labels: Mapping[str, str]) -> dict[str, str]:
    """The labels that identify an aggregation group (missing labels are left out)."""
    names = sorted(labels) if options.group_by is None else sorted(set(options.group_by))
    return {name: labels[name] for name in names if name in labels}


def group_key(node: RouteNode, labels: Mapping[str, str]) -> str:
    return node.path + ":" + json.dumps(group_labels(node.options, labels), sort_keys=True)
