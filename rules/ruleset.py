"""A loaded, compiled rule set: the stateless hot path and the factory for correlation state."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple, cast

from sigma import exceptions as sx
from sigma.collection import SigmaCollection
from sigma.conditions import ConditionOR
from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaCorrelationRule,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from .compiler import CompileError, compile_condition, referenced_fields, required_values
from .config import RulesConfig
from .correlation import CorrelationSpec, CorrelationState
from .evidence import EvidenceSource, evidence_names, small_value
from .extension import SpanwatchExtension, parse_extension, produces_of
from .lint import unknown_field_problems
from .loader import RuleDoc, load_rule_docs
from .model import CorrelationInput, RuleHit, RuleLoadError, RuleProblem
from .rule_index import DISPATCH_FIELD, RuleIndex

log = logging.getLogger(__name__)

_SEVERITY = {
    "informational": "info",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "critical",
}
DEFAULT_GROUP_BY = ("user",)


@dataclass(frozen=True)
class Feed:
    """How one detection rule feeds one correlation."""

    correlation_id: str
    group_fields: tuple[str, ...]
    value_fields: tuple[str, ...]
    value_kind: str  # none | number | text


@dataclass(frozen=True)
class DetectionRule:
    """A compiled detection rule and what to do when it matches (built whole by
    `build_ruleset`: correlations decide what it feeds and whether it raises incidents)."""

    rule_id: str
    title: str
    severity: str
    matcher: Callable[[Mapping[str, Any]], bool]
    condition_tree: Any
    generates: bool
    group_by: tuple[str, ...]
    labels: dict[str, str]
    runbook: str | None
    resolve_after: float | None
    evidence_fields: tuple[str, ...]
    dispatch: frozenset[str] | None
    feeds: tuple[Feed, ...] = ()
    noise_budget: int | None = None
    produces: str = "incident"  # or "finding" (see rules.extension.produces_of)
    fingerprint: str = ""
    has_level: bool = True
    where: tuple[str, int] = ("", 0)
    evidence_names: tuple[str, ...] = ()  # evidence_names(evidence_fields)


class RuleSet:
    """Detection and correlation rules compiled from Sigma files.

    `evaluate` is stateless and safe to run on every event; correlation windows live in one
    `CorrelationState` per correlation rule, created by `new_correlation_state`.
    """

    def __init__(
        self,
        detections: list[DetectionRule],
        correlations: dict[str, CorrelationSpec],
        config: RulesConfig,
        problems: list[RuleProblem],
        files: list[Path],
    ) -> None:
        self.detections = detections
        self.correlations = correlations
        self.correlation_ids: list[str] = list(correlations)
        self.config = config
        self.problems = problems  # warnings (a set with errors is never built)
        self.files = files
        self.runtime_errors: dict[str, int] = {}
        self.index: RuleIndex[DetectionRule] = RuleIndex(detections, config.lists)

    # -- loading --

    @classmethod
    def load(cls, paths: Sequence[str | Path], config: RulesConfig | None = None) -> RuleSet:
        """Load, validate and compile rule files and directories.

        With no `paths`, loads the configured packs and paths (`config.rule_paths()`), so
        `RuleSet.load([])` is the embedded default. Raises `RuleLoadError` with every problem
        when anything is wrong; warnings are kept in `.problems`.
        """
        config = config or RulesConfig()
        ruleset, problems = build_ruleset(paths, config)
        if ruleset is None or any(p.severity == "error" for p in problems):
            raise RuleLoadError(problems)
        return ruleset

    @classmethod
    def from_config(cls, config: RulesConfig | None = None) -> RuleSet:
        """The configured packs and extra paths."""
        return cls.load([], config)

    # -- hot path --

    def evaluate(self, event: Mapping[str, Any]) -> tuple[list[RuleHit], list[CorrelationInput]]:
        """Hits of incident-raising detection rules and inputs for correlation windows.

        Only the rules that can match the event are tried (`RuleIndex`: by `name`, then by one
        test each rule needs to hold). Hits keep rule order. When nothing matches, both lists
        are one shared, read-only empty list (`NO_OUTPUT`).
        """
        matched: list[DetectionRule] | None = None
        for rule, matcher in self.index.candidates(event):
            try:
                if matcher(event):
                    if matched is None:
                        matched = []
                    matched.append(rule)
            except Exception:  # a rule must never take the dataflow down: count it
                self._failed(rule)
        if matched is None:
            return NO_OUTPUT, NO_OUTPUT
        hits: list[RuleHit] = []
        inputs: list[CorrelationInput] = []
        # The raw evidence the event's hits share, taken once: a thousand rules can match.
        shown = _EventEvidence(event)
        for rule in matched:
            try:
                self._on_match(rule, event, hits, inputs, shown)
            except Exception:
                self._failed(rule)
        return hits, inputs

    def _failed(self, rule: DetectionRule) -> None:
        self.runtime_errors[rule.rule_id] = self.runtime_errors.get(rule.rule_id, 0) + 1
        log.exception("rule %s failed on an event", rule.rule_id)

    def _on_match(
        self,
        rule: DetectionRule,
        event: Mapping[str, Any],
        hits: list[RuleHit],
        inputs: list[CorrelationInput],
        shown: _EventEvidence | None = None,
    ) -> None:
        t = event.get("time")
        if type(t) is not float:
            t = _event_time(event)
        shown = shown or _EventEvidence(event)
        if rule.generates:
            hits.append(_rule_hit(rule, event, t, shown.of(rule)))
        if rule.feeds:
            _feed_correlations(rule, event, t, inputs, shown.of(rule))

    # -- state --

    def new_correlation_state(self, correlation_id: str) -> CorrelationState:
        return CorrelationState(self.correlations[correlation_id], self.config.max_groups_per_rule)

    def adopt(self, old_states: dict[str, CorrelationState]) -> dict[str, CorrelationState]:
        """States for this set: an old window is kept when what it aggregates is unchanged."""
        states: dict[str, CorrelationState] = {}
        for cid, spec in self.correlations.items():
            old = old_states.get(cid)
            if old is not None and old.spec.state_key == spec.state_key:
                old.spec = spec  # thresholds, labels and titles may have changed
                old.max_groups = self.config.max_groups_per_rule
                states[cid] = old
            else:
                states[cid] = self.new_correlation_state(cid)
        return states

    @property
    def rule_ids(self) -> list[str]:
        return [r.rule_id for r in self.detections] + self.correlation_ids


# --- helpers for the hot path ----------------------------------------------------------------


def _rule_hit(
    rule: DetectionRule, event: Mapping[str, Any], t: float, evidence: EvidenceSource
) -> RuleHit:
    return RuleHit(
        rule.rule_id,
        rule.title,
        rule.severity,
        t,
        {f: _group_value(event.get(f)) for f in rule.group_by},
        dict(rule.labels),
        evidence,
        rule.runbook,
        rule.resolve_after,
        rule.noise_budget,
        rule.produces,
    )


def _feed_correlations(
    rule: DetectionRule,
    event: Mapping[str, Any],
    t: float,
    inputs: list[CorrelationInput],
    source: EvidenceSource,
) -> None:
    """One input per correlation the rule feeds; none for a feed whose value the event lacks.
    Evidence of an input is built only if its window fires (most never do)."""
    value: float | str | None
    for feed in rule.feeds:
        if feed.value_kind == "none":
            value = None
        elif (value := _fed_value(event, feed)) is None:
            continue
        group = _fed_group(event, feed.group_fields)
        inputs.append(CorrelationInput(feed.correlation_id, t, group, rule.rule_id, value, source))


def _fed_value(event: Mapping[str, Any], feed: Feed) -> float | str | None:
    """`_feed_value`, with its common case (one field of the expected type) first."""
    if len(feed.value_fields) == 1:
        v = event.get(feed.value_fields[0])
        if feed.value_kind == "text" and type(v) is str:
            return v
        if feed.value_kind == "number" and type(v) is float and v == v:
            return 0.0 + v
    return _feed_value(event, feed)


def _fed_group(event: Mapping[str, Any], fields: tuple[str, ...]) -> tuple[str, ...]:
    get = event.get
    if len(fields) == 1:
        v = get(fields[0])
        return (v if type(v) is str else _group_value(v),)
    return tuple([v if type(v) is str else _group_value(v) for v in map(get, fields)])


class _EventEvidence:
    """The raw evidence of one event for many rules: the values `event_evidence` would read,
    taken once per set of shown fields however many rules show them. Formatting them (times,
    redaction, truncation) waits until a hit is shown (`EvidenceSource.build`)."""

    __slots__ = ("event", "sources")

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.event = event
        self.sources: dict[tuple[str, ...], EvidenceSource] = {}

    def of(self, rule: DetectionRule) -> EvidenceSource:
        """What `event_evidence(event, rule.evidence_fields)` is built from."""
        fields = rule.evidence_fields
        source = self.sources.get(fields)
        if source is None:
            names = rule.evidence_names
            source = EvidenceSource(names, fields, tuple(map(self.event.get, names)))
            self.sources[fields] = source
        return source


class _ReadOnlyEmptyList(list[Any]):
    """An empty list that refuses to grow, so one instance can be every event's empty result."""

    def _refuse(self, *_args: Any, **_kwargs: Any) -> None:
        raise TypeError("RuleSet.evaluate's empty result is shared and read-only: copy it first")

    append = extend = insert = __setitem__ = __iadd__ = __imul__ = _refuse  # type: ignore[assignment]


NO_OUTPUT: list[Any] = _ReadOnlyEmptyList()


def _event_time(event: Mapping[str, Any]) -> float:
    t = event.get("time")
    if isinstance(t, int | float) and not isinstance(t, bool):
        return float(t)
    return 0.0


def _group_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(small_value(value))


def _feed_value(event: Mapping[str, Any], feed: Feed) -> float | str | None:
    if feed.value_kind == "none":
        return None
    if feed.value_kind == "text":
        parts = [event.get(f) for f in feed.value_fields]
        if any(p is None for p in parts):
            return None
        return "\x1f".join(_group_value(p) for p in parts)
    total, found = 0.0, False
    for f in feed.value_fields:
        v = event.get(f)
        if isinstance(v, int | float) and not isinstance(v, bool) and v == v:
            total += float(v)
            found = True
    return total if found else None


# --- building ---------------------------------------------------------------------------------


def rule_id_of(obj: SigmaRule | SigmaCorrelationRule | SigmaFilter) -> str | None:
    if obj.name:
        return obj.name
    if obj.id is not None:
        return str(obj.id)
    return None


def _fingerprint(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_ruleset(
    paths: Sequence[str | Path],
    config: RulesConfig,
    known_fields: Collection[str] | None = None,
) -> tuple[RuleSet | None, list[RuleProblem]]:
    """Load and compile; returns the set (None if it has errors) and all problems.

    With `known_fields`, fields that are neither known nor configured aliases are warnings.
    """
    source_paths = list(paths) if paths else config.rule_paths()
    docs, problems = load_rule_docs(source_paths, config)
    if known_fields is not None:
        problems.extend(unknown_field_problems(docs, known_fields, config))
    usable = [d for d in docs if d.obj is not None and not d.obj.errors]
    rule_docs = _identified_rules(usable, problems)
    filter_docs = [d for d in usable if isinstance(d.obj, SigmaFilter)]
    collection = SigmaCollection(
        init_rules=[d.obj for d in rule_docs if d.obj is not None],
        collect_filters=True,
        resolve_references=False,
    )
    problems.extend(_check_filters(filter_docs, collection))
    _apply_filters(filter_docs, rule_docs, problems)
    compiled = _compile_detections(rule_docs, config, problems, [d.data for d in filter_docs])
    correlations, wiring = _compile_correlations(rule_docs, collection, compiled, problems)
    building_blocks = _blocks_of_switched_off(docs)
    detections = [
        _as_run(rule, wiring.feeds.get(rid, ()), wiring.generates(rid, building_blocks))
        for rid, rule in compiled.items()
    ]
    problems.extend(_missing_level_warnings(detections))
    if any(p.severity == "error" for p in problems):
        return None, problems
    detections, correlations = _produces_overridden(detections, correlations, config.produces)
    files = sorted({d.path for d in docs})
    return RuleSet(detections, correlations, config, problems, files), problems


def _produces_overridden(
    detections: list[DetectionRule],
    correlations: dict[str, CorrelationSpec],
    produces: Mapping[str, str],
) -> tuple[list[DetectionRule], dict[str, CorrelationSpec]]:
    """The configuration's `rules.produces` over the rule files' (promote a finding rule to
    incidents, demote a noisy one to findings); ids it names that no rule has are the
    engine's to report, at their line of the configuration file."""
    if not produces:
        return detections, correlations
    return (
        [replace(r, produces=produces.get(r.rule_id, r.produces)) for r in detections],
        {
            cid: replace(spec, produces=produces.get(cid, spec.produces))
            for cid, spec in correlations.items()
        },
    )


def _identified_rules(usable: list[RuleDoc], problems: list[RuleProblem]) -> list[RuleDoc]:
    """The detection and correlation rules with a `name` (or `id`) of their own, first wins."""
    by_id: dict[str, RuleDoc] = {}
    for doc in usable:
        if doc.obj is None or isinstance(doc.obj, SigmaFilter):
            continue
        rid = rule_id_of(doc.obj)
        if rid is None:
            problems.append(doc.problem("a rule needs a `name` (or an `id`) to be referred to"))
            continue
        if rid in by_id:
            first = by_id[rid]
            problems.append(
                doc.problem(f"rule id {rid!r} is already used in {first.path}:{first.line}", "name")
            )
            continue
        by_id[rid] = doc
    return list(by_id.values())


def _apply_filters(
    filter_docs: list[RuleDoc], rule_docs: list[RuleDoc], problems: list[RuleProblem]
) -> None:
    """Sigma filters rewrite the detection rules they name before anything is compiled."""
    for fdoc in filter_docs:
        for doc in rule_docs:
            if isinstance(doc.obj, SigmaRule):
                try:
                    doc.obj = cast(SigmaFilter, fdoc.obj).apply_on_rule(doc.obj)
                except sx.SigmaError as exc:
                    problems.append(fdoc.problem(f"cannot apply to {doc.label}: {exc}", "filter"))


def _compile_detections(
    rule_docs: list[RuleDoc],
    config: RulesConfig,
    problems: list[RuleProblem],
    filters_data: list[Any],
) -> dict[str, DetectionRule]:
    """Each detection rule on its own, before the correlations that use it are known."""
    detections: dict[str, DetectionRule] = {}
    for doc in rule_docs:
        if isinstance(doc.obj, SigmaRule):
            compiled = _compile_detection(doc, config, problems, filters_data)
            if compiled is not None:
                detections[compiled.rule_id] = compiled
    return detections


@dataclass
class _Wiring:
    """What the correlations ask of the detection rules they refer to."""

    feeds: dict[str, list[Feed]] = field(default_factory=dict)  # by detection rule id
    raise_own: dict[str, bool] = field(default_factory=dict)  # any of them says `generate`

    def add(self, rid: str, feed: Feed, generate: bool) -> None:
        self.feeds.setdefault(rid, []).append(feed)
        self.raise_own[rid] = self.raise_own.get(rid, False) or generate

    def generates(self, rid: str, building_blocks: set[str]) -> bool:
        """Whether the rule raises incidents of its own: a rule a correlation refers to does
        only if one of them says `generate`; a building block of a switched-off correlation
        stays a building block."""
        if rid in self.feeds:
            return self.raise_own[rid]
        return rid not in building_blocks


def _compile_correlations(
    rule_docs: list[RuleDoc],
    collection: SigmaCollection,
    detections: dict[str, DetectionRule],
    problems: list[RuleProblem],
) -> tuple[dict[str, CorrelationSpec], _Wiring]:
    correlations: dict[str, CorrelationSpec] = {}
    wiring = _Wiring()
    for doc in rule_docs:
        if isinstance(doc.obj, SigmaCorrelationRule):
            built = _compile_correlation(doc, collection, detections, problems)
            if built is None:
                continue
            spec, rule_feeds, generate = built
            correlations[spec.rule_id] = spec
            for rid, feed in rule_feeds:
                wiring.add(rid, feed, generate)
    return correlations, wiring


def _blocks_of_switched_off(docs: list[RuleDoc]) -> set[str]:
    """The rules that switched-off correlations name."""
    blocks: set[str] = set()
    for doc in docs:
        if doc.switched_off:
            names = doc.data["correlation"].get("rules")
            blocks.update(names if isinstance(names, list) else [names])
            ext = doc.data.get("spanwatch")
            resets = ext.get("reset-on") if isinstance(ext, dict) else None
            if resets:
                blocks.update(resets if isinstance(resets, list) else [resets])
    return blocks


def _as_run(rule: DetectionRule, feeds: Sequence[Feed], generates: bool) -> DetectionRule:
    """The rule whole, as it runs: what it feeds and whether it raises incidents itself; its
    evidence shows its own fields, then those its correlations group and count by."""
    if not feeds:
        return replace(rule, generates=generates)
    extra = [f for feed in feeds for f in (*feed.group_fields, *feed.value_fields)]
    fields = tuple(dict.fromkeys((*rule.evidence_fields, *extra)))
    return replace(
        rule,
        feeds=tuple(feeds),
        generates=generates,
        evidence_fields=fields,
        evidence_names=evidence_names(fields),
    )


def _missing_level_warnings(detections: list[DetectionRule]) -> list[RuleProblem]:
    return [
        RuleProblem(
            *rule.where, rule.rule_id, "level", "no level: severity defaults to medium", "warning"
        )
        for rule in detections
        if rule.generates and not rule.has_level
    ]


def _check_filters(filter_docs: list[RuleDoc], collection: SigmaCollection) -> list[RuleProblem]:
    problems = []
    for fdoc in filter_docs:
        refs = cast(SigmaFilter, fdoc.obj).filter.rules
        if isinstance(refs, str):
            continue
        for ref in refs:
            try:
                collection[ref.reference]
            except sx.SigmaRuleNotFoundError:
                problems.append(
                    fdoc.problem(
                        f"filter refers to rule {ref.reference!r}, which is not loaded",
                        "filter",
                        "rules",
                        severity="warning",
                    )
                )
    return problems


def _meta(doc: RuleDoc, problems: list[RuleProblem]) -> SpanwatchExtension:
    ext, ext_problems = parse_extension(doc.data.get("spanwatch"))
    for key, message in ext_problems:
        problems.append(doc.problem(message, "spanwatch", *key.split(".")))
    return ext


def _severity(obj: SigmaRule | SigmaCorrelationRule) -> str:
    return _SEVERITY.get(str(obj.level), "medium") if obj.level is not None else "medium"


def _compile_detection(
    doc: RuleDoc, config: RulesConfig, problems: list[RuleProblem], filters_data: list[Any]
) -> DetectionRule | None:
    rule = cast(SigmaRule, doc.obj)
    ext = _detection_extension(doc, problems)
    trees = _condition_trees(doc, rule, problems)
    if trees is None:
        return None
    tree = trees[0] if len(trees) == 1 else ConditionOR(trees) if trees else None
    try:
        matcher = compile_condition(tree, config.lists)
    except CompileError as exc:
        problems.append(doc.problem(str(exc), *(_key_path(doc, exc.field) or ("detection",))))
        return None
    fields = tuple(referenced_fields(tree))
    return DetectionRule(
        rule_id=rule_id_of(rule) or "",
        title=rule.title,
        severity=_severity(rule),
        matcher=matcher,
        condition_tree=tree,
        generates=True,
        group_by=tuple(ext.group_by) if ext.group_by is not None else DEFAULT_GROUP_BY,
        labels=dict(ext.labels),
        runbook=ext.runbook,
        resolve_after=ext.resolve_after,
        noise_budget=ext.noise_budget,
        produces=produces_of(ext, rule.tags),
        evidence_fields=fields,
        evidence_names=evidence_names(fields),
        dispatch=required_values(tree, DISPATCH_FIELD),
        fingerprint=_fingerprint(doc.data, _lists_used(doc, config), filters_data),
        has_level=rule.level is not None,
        where=(str(doc.path), doc.line),
    )


def _detection_extension(doc: RuleDoc, problems: list[RuleProblem]) -> SpanwatchExtension:
    ext = _meta(doc, problems)
    if ext.dedup is not None:
        problems.append(
            doc.problem(
                "`dedup` is for correlation rules (a detection rule counts nothing)",
                "spanwatch",
                "dedup",
            )
        )
    if ext.reset_on is not None:
        problems.append(
            doc.problem(
                "`reset-on` is for correlation rules (a detection rule has no window to reset)",
                "spanwatch",
                "reset-on",
            )
        )
    if ext.count is not None:
        problems.append(
            doc.problem(
                "`count` is for value_count correlations (a detection rule counts nothing)",
                "spanwatch",
                "count",
            )
        )
    return ext


def _condition_trees(
    doc: RuleDoc, rule: SigmaRule, problems: list[RuleProblem]
) -> list[Any] | None:
    """The parsed trees of the rule's conditions (None when one does not parse)."""
    try:
        trees = [c.parsed for c in rule.detection.parsed_condition]
    except sx.SigmaError as exc:
        problems.append(doc.problem(str(exc.args[0]), "detection", "condition"))
        return None
    return [t for t in trees if t is not None]


def _key_path(doc: RuleDoc, field: str | None) -> tuple[Any, ...] | None:
    """Where a field is written in the detection, for the line number of a problem."""
    if not field:
        return None
    detection = doc.data.get("detection")
    if not isinstance(detection, dict):
        return None
    for name, definition in detection.items():
        maps = [definition] if isinstance(definition, dict) else []
        if isinstance(definition, list):
            maps = [d for d in definition if isinstance(d, dict)]
        for i, mapping in enumerate(maps):
            for key in mapping:
                if str(key).split("|")[0] == field:
                    if isinstance(definition, list):
                        return ("detection", name, i, key)
                    return ("detection", name, key)
    return None


def _lists_used(doc: RuleDoc, config: RulesConfig) -> dict[str, list[str]]:
    text = json.dumps(doc.data, default=str)
    return {name: values for name, values in config.lists.items() if f"%{name}%" in text}


_NUMERIC_KINDS = ("value_sum", "value_avg", "value_percentile", "value_median")


class _CorrelationCondition(NamedTuple):
    """What a correlation's condition compiles to: thresholds, or a formula over rules."""

    conditions: tuple[tuple[str, float], ...]
    value_fields: tuple[str, ...] = ()
    percentile: float = 50.0
    formula: tuple[Any, ...] | None = None


def _compile_correlation(
    doc: RuleDoc,
    collection: SigmaCollection,
    detections: dict[str, DetectionRule],
    problems: list[RuleProblem],
) -> tuple[CorrelationSpec, list[tuple[str, Feed]], bool] | None:
    rule = cast(SigmaCorrelationRule, doc.obj)
    ext = _correlation_extension(doc, problems)
    referenced = _referenced_detections(doc, rule, collection, detections, problems)
    if referenced is None:
        return None
    resets = _reset_detections(doc, ext, referenced, collection, detections, problems)
    if resets is None:
        return None
    kind = str(rule.type)
    condition = _correlation_condition(doc, rule, kind, collection, problems)
    if condition is None:
        return None
    aliases = {
        alias.alias: {rule_id_of(ref.rule): field for ref, field in alias.mapping.items()}
        for alias in rule.aliases
    }
    share = _share_of(doc, ext, kind, referenced, problems)
    aggregated = _aggregated(rule, referenced, condition, ext, share)
    prints = [detections[r].fingerprint for r in (*referenced, *resets)]
    state_key = _state_key((*aggregated, resets) if resets else aggregated, aliases, prints)
    spec = replace(
        _correlation_spec(rule, referenced, condition, ext, state_key),
        reset_rules=tuple(resets),
        share=share,
    )
    return spec, _feeds(spec, aliases), bool(rule.generate)


def _aggregated(
    rule: SigmaCorrelationRule,
    referenced: list[str],
    condition: _CorrelationCondition,
    ext: SpanwatchExtension,
    share: tuple[tuple[str, ...], float] | None,
) -> tuple[Any, ...]:
    """What the correlation's windows hold depends on (its state key's part of the rule)."""
    aggregated: tuple[Any, ...] = (
        str(rule.type),
        referenced,
        tuple(rule.group_by or ()),
        rule.timespan.seconds,
        condition.value_fields,
    )
    if ext.count == "new-values":  # its windows remember first times: a plain one has none
        aggregated = (*aggregated, "new-values")
    if share is not None:  # its windows count the calls too
        aggregated = (*aggregated, "share", share[0])
    return aggregated


def _share_of(
    doc: RuleDoc,
    ext: SpanwatchExtension,
    kind: str,
    referenced: list[str],
    problems: list[RuleProblem],
) -> tuple[tuple[str, ...], float] | None:
    """`share`: (the rules whose inputs are the calls, the least share), checked."""
    if ext.share is None:
        return None
    if kind != "event_count":
        problems.append(
            doc.problem(f"`share` is for event_count, not {kind}", "spanwatch", "share")
        )
        return None
    unknown = [r for r in ext.share.of if r not in referenced]
    if unknown or len(set(ext.share.of)) >= len(set(referenced)):
        problems.append(
            doc.problem(
                f"`share.of` must name some, not all, of the correlation's rules ({unknown or 'all'})",
                "spanwatch",
                "share",
            )
        )
        return None
    return tuple(ext.share.of), ext.share.min


def _correlation_spec(
    rule: SigmaCorrelationRule,
    referenced: list[str],
    condition: _CorrelationCondition,
    ext: SpanwatchExtension,
    state_key: str,
) -> CorrelationSpec:
    """The correlation as it runs, from the Sigma rule and its spanwatch extension."""
    return CorrelationSpec(
        rule_id=rule_id_of(rule) or "",
        title=rule.title,
        severity=_severity(rule),
        type=str(rule.type),
        rules=tuple(referenced),
        group_by=tuple(rule.group_by or ()),
        timespan=float(rule.timespan.seconds),
        timespan_text=rule.timespan.spec,
        conditions=condition.conditions,
        value_fields=condition.value_fields,
        percentile=condition.percentile,
        formula=condition.formula,
        labels=tuple(sorted(ext.labels.items())),
        runbook=ext.runbook,
        resolve_after=ext.resolve_after,
        noise_budget=ext.noise_budget,
        produces=produces_of(ext, rule.tags),
        dedup=ext.dedup.compiled() if ext.dedup is not None else None,
        state_key=state_key,
        new_values=ext.count == "new-values",
        norm=ext.norm.compiled() if ext.norm is not None else None,
    )


def _state_key(
    aggregated: tuple[Any, ...], aliases: dict[str, dict[Any, str]], rule_prints: list[str]
) -> str:
    """What a correlation's windows hold depends on: a reloaded rule with the same key keeps
    its windows (`RuleSet.adopt`)."""
    return _fingerprint(
        *aggregated, sorted((a, sorted(m.items())) for a, m in aliases.items()), rule_prints
    )


def _correlation_extension(doc: RuleDoc, problems: list[RuleProblem]) -> SpanwatchExtension:
    ext = _meta(doc, problems)
    if ext.group_by is not None:
        problems.append(
            doc.problem(
                "a correlation groups by `correlation.group-by`, not `spanwatch.group-by`",
                "spanwatch",
                "group-by",
            )
        )
    kind = str(cast(SigmaCorrelationRule, doc.obj).type)
    if ext.count == "new-values" and kind != "value_count":
        problems.append(
            doc.problem(
                f"`count: new-values` is for value_count correlations, not {kind}",
                "spanwatch",
                "count",
            )
        )
    if ext.norm is not None and kind not in ("event_count", "value_count", "value_sum"):
        problems.append(
            doc.problem(
                f"`norm` is for event_count, value_count and value_sum correlations, not {kind}",
                "spanwatch",
                "norm",
            )
        )
    return ext


def _referenced_detections(
    doc: RuleDoc,
    rule: SigmaCorrelationRule,
    collection: SigmaCollection,
    detections: dict[str, DetectionRule],
    problems: list[RuleProblem],
) -> list[str] | None:
    """The ids of the detection rules the correlation counts (None: it cannot be built)."""
    try:
        rule.resolve_rule_references(collection)
        for alias in rule.aliases:
            alias.resolve_rule_references(collection)
    except sx.SigmaRuleNotFoundError as exc:
        problems.append(doc.problem(f"{exc.args[0]}", "correlation", "rules"))
        return None
    referenced: list[str] = []
    for ref in rule.referenced_rules:
        target = ref.rule
        rid = rule_id_of(target) or ""
        if isinstance(target, SigmaCorrelationRule):
            problems.append(
                doc.problem(
                    f"refers to correlation rule {rid!r}: a correlation can only refer to "
                    "detection rules",
                    "correlation",
                    "rules",
                )
            )
            return None
        if rid not in detections:
            return None  # the referenced rule has its own problems, reported there
        referenced.append(rid)
    return referenced


def _reset_detections(
    doc: RuleDoc,
    ext: SpanwatchExtension,
    referenced: list[str],
    collection: SigmaCollection,
    detections: dict[str, DetectionRule],
    problems: list[RuleProblem],
) -> list[str] | None:
    """The ids of the detection rules `spanwatch.reset-on` names (None: one cannot be used)."""
    resets: list[str] = []
    for name in ext.reset_on or ():
        try:
            target = collection[name]
        except sx.SigmaRuleNotFoundError:
            problems.append(
                doc.problem(f"reset-on names rule {name!r}, which is not loaded", *_RESET)
            )
            return None
        rid = rule_id_of(target) or ""
        if isinstance(target, SigmaCorrelationRule):
            problems.append(
                doc.problem(
                    f"reset-on names correlation rule {rid!r}: only detection rules", *_RESET
                )
            )
            return None
        if rid in referenced:
            problems.append(
                doc.problem(f"reset-on names {rid!r}, which the correlation also counts", *_RESET)
            )
            return None
        if rid not in detections:
            return None  # the named rule has its own problems, reported there
        resets.append(rid)
    return list(dict.fromkeys(resets))


_RESET = ("spanwatch", "reset-on")


def _correlation_condition(
    doc: RuleDoc,
    rule: SigmaCorrelationRule,
    kind: str,
    collection: SigmaCollection,
    problems: list[RuleProblem],
) -> _CorrelationCondition | None:
    if isinstance(rule.condition, SigmaExtendedCorrelationCondition):
        return _CorrelationCondition((), formula=_formula(rule.condition.parsed, collection))
    conditions = tuple(doc.conditions) or (
        (rule.condition.op.name.lower(), float(rule.condition.count)),
    )
    fieldref = rule.condition.fieldref
    value_fields: tuple[str, ...] = ()
    if fieldref:
        value_fields = (fieldref,) if isinstance(fieldref, str) else tuple(fieldref)
    if kind != "value_percentile":
        return _CorrelationCondition(conditions, value_fields)
    if rule.condition.percentile is None:
        problems.append(
            doc.problem(
                "value_percentile needs `percentile` (1-99) in the condition",
                "correlation",
                "condition",
            )
        )
        return None
    return _CorrelationCondition(conditions, value_fields, float(rule.condition.percentile))


def _feeds(spec: CorrelationSpec, aliases: dict[str, dict[Any, str]]) -> list[tuple[str, Feed]]:
    """How each rule the correlation counts feeds it: its group fields (through the aliases)
    and what value of an event the window aggregates."""
    kind = spec.type
    value_kind = "text" if kind == "value_count" else "number" if kind in _NUMERIC_KINDS else "none"
    return [
        (
            rid,
            Feed(
                correlation_id=spec.rule_id,
                group_fields=tuple(aliases.get(g, {}).get(rid, g) for g in spec.group_by),
                value_fields=spec.value_fields,
                value_kind=value_kind,
            ),
        )
        for rid in dict.fromkeys((*spec.rules, *spec.reset_rules))
    ]


def _formula(node: Any, collection: SigmaCollection) -> tuple[Any, ...]:
    if isinstance(node, SigmaRuleReference):
        return ("rule", rule_id_of(collection[node.reference]))
    if isinstance(node, CorrelationConditionNOT):
        return ("not", _formula(node.args[0], collection))
    op = "and" if isinstance(node, CorrelationConditionAND) else "or"
    assert isinstance(node, CorrelationConditionAND | CorrelationConditionOR)
    return (op, *(_formula(a, collection) for a in node.args))
