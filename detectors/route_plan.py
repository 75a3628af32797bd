"""Routing compiled per event name: which detectors an event can feed, and their shared work.

Most detectors filter on `name` (`claude.invoke`, `cache.lookup`), so `NameIndex` decides
once, at configuration time, which routes can accept an event with a given name and
drops that clause from their filters. The routes that remain for one name often share a
key (`group_by` + `parent_by`) or a metric (the cost, the tokens), so a `RoutePlan`
computes each distinct key, metric and deduplication mark once per event and hands the results to every
route that needs them. The outcome is, by construction and by test
(`tests/detectors/test_route_index.py`), the list that testing every `Route` gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

from detectors.json_value import Event
from detectors.model import Observation
from detectors.routing import CompiledMatcher, Dedup, MetricExtractor, Route, norm

_UNSET = object()  # a deduplication mark not computed yet for this event
# An Observation from its seven fields in order, without the named tuple's Python-level
# `__new__` (one frame less for each of the several observations of every event).
_observation = partial(tuple.__new__, Observation)
Keyer = tuple[tuple[str, ...], tuple[str, ...], tuple[str | None, ...]]  # group, parent, defaults


class PlannedRoute(NamedTuple):
    """One route inside a plan: what is left to test, and where its key and metrics are.

    A tuple, so that the hot loop unpacks it at once; None = nothing to test.
    """

    detector_id: str
    filter: CompiledMatcher | None
    exclude: CompiledMatcher | None
    keyer: int
    metrics: tuple[int, ...]
    dedup: int | None = None  # index into the plan's `dedups`


def _label(value: Any) -> str:
    """`norm` with its commonest case, plain text that cannot read as a boolean, inline."""
    if type(value) is str and len(value) not in (4, 5):
        return value
    return norm(value)


def _key(event: Event, keyer: Keyer) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(group, parent) of the event for one keyer, None when a group label is missing
    (`group_key`, the reference, with the label of each field read in one pass)."""
    group_by, parent_by, defaults = keyer
    group: list[str] = []
    for f, default in zip(group_by, defaults, strict=True):
        v = event.get(f)
        if v is None or v == "":
            if default is None:
                return None
            group.append(default)
        else:
            group.append(_label(v))
    return tuple(group), tuple([_label(event.get(f, "")) for f in parent_by])


@dataclass(frozen=True)
class RoutePlan:
    """The routes (in configuration order) that an event with one name value can feed."""

    keyers: tuple[Keyer, ...]
    extractors: tuple[MetricExtractor, ...]
    routes: tuple[PlannedRoute, ...]
    dedups: tuple[Dedup, ...] = ()

    @classmethod
    def build(cls, routes: Sequence[tuple[Route, CompiledMatcher]]) -> RoutePlan:
        """From (route, the filter left to test) pairs: share equal keys, metrics, dedups."""
        keyers: dict[Keyer, int] = {}
        extractors: dict[MetricExtractor, int] = {}
        dedups: dict[Dedup, int] = {}
        planned = []
        for route, remaining in routes:
            defaults = route.label_defaults or (None,) * len(route.group_by)
            keyer = keyers.setdefault((route.group_by, route.parent_by, defaults), len(keyers))
            metrics = tuple(
                extractors.setdefault(m.shared(), len(extractors)) for m in route.metrics
            )
            planned.append(
                PlannedRoute(
                    route.detector_id,
                    remaining if remaining.clauses else None,
                    route.exclude if route.exclude.clauses else None,
                    keyer,
                    metrics,
                    None if route.dedup is None else dedups.setdefault(route.dedup, len(dedups)),
                )
            )
        return cls(tuple(keyers), tuple(extractors), tuple(planned), tuple(dedups))

    def observe(self, event: Event, time: float) -> list[Observation]:
        """What `Route.observe` gives for each route, each key and metric computed once."""
        if not self.routes:
            return []
        keys = [_key(event, k) for k in self.keyers]
        values = [m.extract(event) for m in self.extractors]
        marks: list[Any] = [_UNSET] * len(self.dedups)
        out = []
        for detector_id, filter_, exclude, keyer, metrics, dedup in self.routes:
            if filter_ is not None and not filter_.matches(event):
                continue
            if exclude is not None and exclude.excludes(event):
                continue
            key = keys[keyer]
            if key is None:
                continue
            group, parent = key
            value: float | str | None = None
            metric_values: tuple[float | str | None, ...] | None = None
            if len(metrics) == 1:
                value = values[metrics[0]]
                if value is None:
                    continue
            else:
                metric_values = tuple(values[i] for i in metrics)
                if all(v is None for v in metric_values):
                    continue
            mark = None
            if dedup is not None:
                mark = marks[dedup]
                if mark is _UNSET:
                    mark = marks[dedup] = self.dedups[dedup].mark_of(event)
            out.append(_observation((detector_id, time, group, value, parent, metric_values, mark)))
        return out


class NameIndex:
    """Event name -> RoutePlan, decided once; routes without a plain `name` filter go
    into every plan and are tested as they are."""

    def __init__(self, routes: Sequence[Route]) -> None:
        names: set[str] = set()
        for r in routes:
            names |= r.filter.on("name") or set()
        self.plans: dict[str, RoutePlan] = {}
        for name in sorted(names):
            chosen = []
            for r in routes:
                accepted = r.filter.on("name")
                if accepted is None:
                    chosen.append((r, r.filter))
                elif name in accepted:
                    chosen.append((r, r.filter.without("name")))
            self.plans[name] = RoutePlan.build(chosen)
        # Any other name, or none: only the routes that do not filter on name can match.
        self.other = RoutePlan.build([(r, r.filter) for r in routes if r.filter.on("name") is None])

    def plan(self, name: object) -> RoutePlan:
        """The plan for an event whose `name` attribute is `name` (None when absent)."""
        if type(name) is str:
            plan = self.plans.get(name)  # index keys are normalised; norm(key) == key
            if plan is not None:
                return plan
        if name is None:
            return self.other
        return self.plans.get(norm(name), self.other)
