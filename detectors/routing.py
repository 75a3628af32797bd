"""The stateless hot path: which detectors an event feeds, under which key, with which value."""

from __future__ import annotations

import math
from dataclasses import dataclass

from detectors.config import DedupSpec, DetectorSpec, MatcherSpec, MetricSpec
from detectors.json_value import Event
from detectors.model import Observation

_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_BOOL_TEXT = frozenset({"true", "false"})
_NAN = float("nan")


def norm(value: object) -> str:
    """Comparable text of a label or attribute value (1 == 1.0 == "1", True == "true")."""
    if type(value) is str:  # the hot case: only "true"/"false" in any case change
        if len(value) not in (4, 5):
            return value
        low = value.lower()
        return low if low in _BOOL_TEXT else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value)
    low = text.lower()
    return low if low in _BOOL_TEXT else text


def truth(value: object) -> bool:
    """Truthiness of an attribute as telemetry writes it (bool, 0/1, "true"/"false")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return str(value).strip().lower() in _TRUE


_INT64 = 2**63


def number(value: object) -> float:
    """A float from a numeric attribute; NaN when it is not a number or an integer beyond
    64 bits (counted downstream as a bad value, never raised)."""
    if isinstance(value, bool):
        return _NAN
    if isinstance(value, int):
        return float(value) if -_INT64 <= value < _INT64 else _NAN
    if isinstance(value, float):
        return value
    try:
        return float(str(value))
    except (ValueError, OverflowError):
        return _NAN


@dataclass(frozen=True)
class CompiledMatcher:
    """All of `fields` must be present with one of the accepted values."""

    clauses: tuple[tuple[str, frozenset[str]], ...]

    @classmethod
    def compile(cls, matcher: MatcherSpec | None) -> CompiledMatcher:
        clauses = []
        for field, want in sorted((matcher or {}).items()):
            values = want if isinstance(want, list) else [want]
            clauses.append((field, frozenset(norm(v) for v in values)))
        return cls(tuple(clauses))

    def on(self, field: str) -> frozenset[str] | None:
        """The values accepted for `field`, or None when the matcher does not look at it."""
        for name, accepted in self.clauses:
            if name == field:
                return accepted
        return None

    def without(self, field: str) -> CompiledMatcher:
        """The same matcher minus its clause on `field` (for a caller that checked it)."""
        return CompiledMatcher(tuple(c for c in self.clauses if c[0] != field))

    def matches(self, event: Event) -> bool:
        for field, accepted in self.clauses:
            v = event.get(field)
            if v is None or norm(v) not in accepted:
                return False
        return True

    def excludes(self, event: Event) -> bool:
        """For `exclude`: any clause that matches excludes the event."""
        for field, accepted in self.clauses:
            v = event.get(field)
            if v is not None and norm(v) in accepted:
                return True
        return False


@dataclass(frozen=True)
class MetricExtractor:
    """Pulls one metric's contribution out of an event (None = the event has nothing for it)."""

    aggregation: str
    fields: tuple[str, ...]
    condition: CompiledMatcher | None
    combine: bool = False

    @classmethod
    def compile(cls, m: MetricSpec) -> MetricExtractor:
        cond = CompiledMatcher.compile(m.condition) if m.condition else None
        return cls(m.aggregation, m.fields, cond, m.combine)

    def shared(self) -> MetricExtractor:
        """An extractor that gives the same values, the same one for metrics that read the
        event alike (a sum, an average and a p95 of a field all read its numeric value)."""
        agg = self.aggregation
        if agg == "count":
            return MetricExtractor("count", (), None)
        if agg in ("rate", "ratio"):
            return MetricExtractor("rate", self.fields, self.condition)
        if agg == "distinct":
            return MetricExtractor("distinct", self.fields, self.condition, self.combine)
        return MetricExtractor("sum", self.fields, None)  # every numeric aggregation

    def extract(self, event: Event) -> float | str | None:
        agg = self.aggregation
        if agg == "count":
            return 1.0
        if agg in ("rate", "ratio"):
            if self.condition is not None:
                if self.fields and event.get(self.fields[0]) is None:
                    return None
                return 1.0 if self.condition.matches(event) else 0.0
            v = event.get(self.fields[0])
            return None if v is None else (1.0 if truth(v) else 0.0)
        if agg == "distinct":
            return self._distinct(event)
        total, found = 0.0, False
        for f in self.fields:
            v = event.get(f)
            if v is not None:
                total += v if type(v) is float else number(v)
                found = True
        return total if found else None

    def _distinct(self, event: Event) -> str | None:
        """The value of the first of `fields` the event has (a fallback when the first is often
        missing: a call's region, else its inference profile's geography), or with `combine`
        every field's value joined by "|" (a missing one empty), so each combination is one
        value (a model in a region); None without any."""
        if self.condition is not None and not self.condition.matches(event):
            return None
        if self.combine and len(self.fields) > 1:
            values = [event.get(f) for f in self.fields]
            if all(v is None for v in values):
                return None
            return "|".join("" if v is None else norm(v) for v in values)
        for f in self.fields:
            v = event.get(f)
            if v is not None:
                return norm(v)
        return None


@dataclass(frozen=True)
class Dedup:
    """Compiled `dedup`: the field whose values are deduplicated, and what is preferred."""

    by: str
    prefer: CompiledMatcher

    @classmethod
    def compile(cls, spec: DedupSpec | None) -> Dedup | None:
        return None if spec is None else cls(spec.by, CompiledMatcher.compile(spec.prefer))

    def mark_of(self, event: Event) -> tuple[str, bool] | None:
        """(the event's `by` value, whether it is preferred); None when it has no `by` value."""
        v = event.get(self.by)
        if v is None or v == "":
            return None
        return norm(v), self.prefer.matches(event)


def group_key(
    event: Event, group_by: tuple[str, ...], defaults: tuple[str | None, ...]
) -> tuple[str, ...] | None:
    """The event's group labels; a missing one takes its default, or the event has no key."""
    group = []
    for f, default in zip(group_by, defaults, strict=True):
        v = event.get(f)
        if v is None or v == "":
            if default is None:
                return None
            group.append(default)
        else:
            group.append(norm(v))
    return tuple(group)


@dataclass(frozen=True)
class Route:
    """One detector's compiled routing: filter, exclusions, key, parent key, metrics."""

    detector_id: str
    filter: CompiledMatcher
    exclude: CompiledMatcher
    group_by: tuple[str, ...]
    parent_by: tuple[str, ...]
    metrics: tuple[MetricExtractor, ...]
    label_defaults: tuple[str | None, ...] = ()
    dedup: Dedup | None = None

    @classmethod
    def compile(cls, spec: DetectorSpec) -> Route:
        return cls(
            spec.id,
            CompiledMatcher.compile(spec.filter),
            CompiledMatcher.compile(spec.exclude),
            tuple(spec.group_by),
            tuple(spec.parent_by),
            tuple(MetricExtractor.compile(m) for m in spec.metric_specs),
            tuple(spec.label_defaults.get(f) for f in spec.group_by),
            Dedup.compile(spec.dedup),
        )

    def observe(self, event: Event, time: float) -> Observation | None:
        """The Observation for this event, or None when the event does not feed this detector."""
        if not self.filter.matches(event) or self.exclude.excludes(event):
            return None
        group = group_key(event, self.group_by, self.label_defaults or (None,) * len(self.group_by))
        if group is None:
            return None
        parent = tuple(norm(event.get(f, "")) for f in self.parent_by)
        value: float | str | None = None
        values: tuple[float | str | None, ...] | None = None
        if len(self.metrics) == 1:
            value = self.metrics[0].extract(event)
            if value is None:
                return None
        else:
            values = tuple(m.extract(event) for m in self.metrics)
            if all(v is None for v in values):
                return None
        mark = self.dedup.mark_of(event) if self.dedup is not None else None
        return Observation(self.detector_id, time, group, value, parent, values, mark)


def event_time(event: Event) -> float | None:
    """The event's time as a finite float, else None."""
    t = event.get("time")
    if isinstance(t, bool) or not isinstance(t, int | float):
        return None
    t = number(t)
    return t if math.isfinite(t) else None
