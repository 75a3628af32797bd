"""Detector configuration (spanwatch YAML, `detectors:` section), validated by pydantic v2.

`DetectorsConfig()` is the default set for Claude Code telemetry, read from `defaults.yml`
(package data, validated at import) so users see it as configuration they can copy. Every error
carries a precise `loc` (e.g. `detectors.3.params.z`) that the engine's YAML loader turns
into file:line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from detectors.estimators import ESTIMATORS, TABLE_KINDS, params_class
from detectors.model import SEVERITIES
from detectors.rollup import AGGREGATIONS
from detectors.slices import MEASURES
from detectors.timeparse import parse_duration

PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Scalar = str | int | float | bool
MatcherSpec = dict[str, Scalar | list[Scalar]]
Kind = Literal[
    "likelihood",
    "seasonal",
    "ewma",
    "changepoint",
    "creep",
    "hst",
    "new_value",
    "absence",
    "budget",
    "ensemble",
    "capacity",
    "sustained",
    "slowdown",
    "steady_surge",
    "joint_surge",
    "shared_move",
    "slices",
]
Aggregation = Literal[
    "count", "sum", "avg", "min", "max", "p50", "p95", "p99", "rate", "ratio", "distinct"
]
assert set(get_args(Aggregation)) == set(AGGREGATIONS)

_PATTERN_RE = r"^[A-Za-z0-9*][A-Za-z0-9_.:*\-]*$"


class QuotaSpec(BaseModel):
    """One quota entry of a capacity detector (see `detectors.quotas`): canonical model and
    region patterns (`*` wildcards) and the account's per-minute limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(
        pattern=_PATTERN_RE, max_length=200, description="canonical model name or pattern"
    )
    region: str = Field(
        "*", pattern=_PATTERN_RE, max_length=100, description="AWS region or pattern"
    )
    tokens_per_minute: float | None = Field(
        None, gt=0, description="the account's tokens-per-minute quota"
    )
    requests_per_minute: float | None = Field(
        None, gt=0, description="the account's requests-per-minute quota"
    )
    output_burndown: float | None = Field(
        None, ge=1, le=100, description="quota tokens one output token counts for"
    )

    @model_validator(mode="after")
    def _some_limit(self) -> QuotaSpec:
        if self.tokens_per_minute is None and self.requests_per_minute is None:
            raise ValueError("a quota needs `tokens_per_minute` or `requests_per_minute`")
        return self


class CapacityConfig(BaseModel):
    """The account's Bedrock quotas (`capacity.quotas`), for every capacity detector: tried
    after a detector's own `params.quotas` and before the documented defaults."""

    model_config = ConfigDict(extra="forbid")

    quotas: list[QuotaSpec] = Field(
        default_factory=list, description="the account's quotas per model and region"
    )

    def apply(
        self, specs: list[DetectorSpec], canonical: Callable[[str], str] | None = None
    ) -> None:
        """Append the account's quotas to each capacity detector's (model patterns without a
        wildcard put through `canonical`, so any spelling of a model names it)."""
        if not self.quotas:
            return
        entries = []
        for q in self.quotas:
            entry = q.model_dump(exclude_none=True)
            if canonical is not None and "*" not in q.model:
                entry["model"] = canonical(q.model)
            entries.append(entry)
        for spec in specs:
            if spec.kind in ESTIMATORS:  # each kind says what the account's quotas change
                spec.params = ESTIMATORS[spec.kind].with_account_quotas(spec.params, entries)


PARAMS: dict[str, type] = {kind: params_class(kind) for kind in (*ESTIMATORS, *TABLE_KINDS)}
_CHOICES: dict[str, Any] = {
    "direction": Literal["up", "down", "both"],
    "person_severity": Literal["", "info", "low", "medium", "high", "critical"],
    "noise": Literal["none", "poisson", "compound", "binomial"],
    "method": Literal["page_hinkley", "adwin"],
    "period": Literal["day", "month"],
    "transform": Literal["none", "log"],
    "generalize": Literal["value", "geography"],
    "scope": Literal["key", "everyone"],
    "within": Literal["anywhere", "known_geography"],
    "warm_on": Literal["clock", "weekdays"],
    "warmup_news": Literal["at_end", "after_hold", "at_once"],
    "quota": Literal["tokens", "requests"],
    "baseline": Literal["own", "pooled"],
    "quotas": list[QuotaSpec],
}
_DURATIONS = frozenset(
    {"step", "tau", "min_history", "horizon", "level_half_life", "trend_half_life", "damping"}
    | {"profile_half_life", "hold", "recall", "session_gap"}
)
_ZERO_OK = frozenset(
    {"budget", "min_points", "adapt_after", "seed", "refractory", "evidence", "repeat"}
    | {"burst_nats", "point_z", "ordinary_share", "sustained"}
)
_FIELD_RE = r"^[A-Za-z_][A-Za-z0-9_.\-]*$"


@cache
def params_model(kind: str) -> type[BaseModel]:
    """A strict pydantic model of one kind's parameters, built from its dataclass."""
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(PARAMS[kind]):
        if f.name in _CHOICES:
            annotation: Any = _CHOICES[f.name]
        elif f.name in _DURATIONS:
            annotation = PositiveDuration
        elif f.type in ("bool", bool):
            annotation = bool
        elif f.type in ("int", int):
            annotation = Annotated[int, Field(ge=0 if f.name in _ZERO_OK else 1)]
        else:
            annotation = Annotated[float, Field(ge=0) if f.name in _ZERO_OK else Field(gt=0)]
        fields[f.name] = (annotation, f.default)
    return create_model(f"{kind}_params", __config__=ConfigDict(extra="forbid"), **fields)


def _noise_budget(value: Any) -> Any:
    """A whole number of incidents (1 or more), or `off` (0: no budget)."""
    if value is False or (isinstance(value, str) and value.strip().lower() in ("off", "none")):
        return 0
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError("noise_budget must be a whole number of incidents (1 or more) or `off`")
    return value


class MetricSpec(BaseModel):
    """One rolled-up metric: an aggregation of an event field (or condition) per window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, description="the metric's name in evidence")
    aggregation: Aggregation = Field("count", description="what a window of events gives")
    field: (
        Annotated[str, Field(pattern=_FIELD_RE)]
        | list[Annotated[str, Field(pattern=_FIELD_RE)]]
        | None
    ) = Field(
        None,
        description="the event field aggregated (a list is summed per event; for `distinct`, "
        "the first of them the event has, or each combination with `combine`)",
    )
    combine: bool = Field(
        False,
        description="for `distinct` over several fields: each combination of their values is "
        "one value (`[model, region]`: a model in a region), instead of the first field present",
    )
    condition: MatcherSpec | None = Field(
        None,
        description="for `rate` and `ratio`: which events count as hits; for `distinct`: "
        "whose values count (the people among a window's failed calls)",
    )

    @model_validator(mode="after")
    def _needs(self) -> MetricSpec:
        agg = self.aggregation
        if agg in ("sum", "avg", "min", "max", "p50", "p95", "p99", "distinct") and not self.field:
            raise ValueError(f"aggregation {agg!r} needs a `field`")
        if agg == "rate" and not self.condition:
            raise ValueError("aggregation 'rate' needs a `condition` (e.g. {status: error})")
        if agg == "ratio" and not (self.field or self.condition):
            raise ValueError("aggregation 'ratio' needs a boolean `field` or a `condition`")
        return self

    @property
    def fields(self) -> tuple[str, ...]:
        if self.field is None:
            return ()
        return (self.field,) if isinstance(self.field, str) else tuple(self.field)


class DedupSpec(BaseModel):
    """One call, one count, when the same calls arrive twice (as a span and as a log event).

    In each window, for each value of `by` (a session): once the detector has seen an event
    of that value matching `prefer` (in this window or the one before), it ignores the other
    events of that value in the window. Events without `by` always count.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: Annotated[str, Field(pattern=_FIELD_RE)] = Field(
        "session", description="the field whose values are deduplicated"
    )
    prefer: MatcherSpec = Field(
        min_length=1, description="the events that stand for the others of the same `by` value"
    )


class DetectorSpec(BaseModel):
    """One detector: which events, which metric, per which key, which estimator, when to alert."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*$", max_length=100)] = Field(
        description="the detector's id: the incidents' `rule_id`"
    )
    kind: Kind = Field(description="the estimator (parameters by kind below)")
    title: str = Field(
        "", description="incident title, `{label}` replaced by the group's value (default: the id)"
    )
    severity: Literal["info", "low", "medium", "high", "critical"] = Field(
        "medium", description="the incidents' severity"
    )
    aggregation: Aggregation = Field("count", description="what a window of events gives")
    field: (
        Annotated[str, Field(pattern=_FIELD_RE)]
        | list[Annotated[str, Field(pattern=_FIELD_RE)]]
        | None
    ) = Field(
        None,
        description="the event field aggregated (a list is summed per event; for `distinct`, "
        "the first of them the event has, or each combination with `combine`)",
    )
    combine: bool = Field(
        False,
        description="for `distinct` over several fields: each combination of their values is "
        "one value (`[model, region]`: a model in a region), instead of the first field present",
    )
    condition: MatcherSpec | None = Field(
        None,
        description="for `rate` and `ratio`: which events count as hits; for `distinct`: "
        "whose values count (the people among a window's failed calls)",
    )
    metrics: list[MetricSpec] = Field(
        default_factory=list, description="several metrics instead of one (kind `hst` only)"
    )
    filter: MatcherSpec = Field(
        default_factory=dict,
        description="field -> value or list of values: the events the detector takes (all "
        "fields must match)",
    )
    exclude: MatcherSpec = Field(
        default_factory=dict, description="field -> values: any match leaves the event out"
    )
    interval: PositiveDuration = Field(
        300.0, description="length of the tumbling event-time window"
    )
    group_by: list[Annotated[str, Field(pattern=_FIELD_RE)]] = Field(
        default_factory=list, description="one series (and model) per value of these fields"
    )
    parent_by: list[Annotated[str, Field(pattern=_FIELD_RE)]] = Field(
        default_factory=list,
        description="a new key starts from the baseline of its parent group (a new user "
        "from the team's)",
    )
    label_defaults: dict[str, str] = Field(
        default_factory=dict,
        description="the value a `group_by` label takes for an event without it (else the "
        "event is skipped)",
    )
    dedup: DedupSpec | None = Field(
        None, description="count a call once when it arrives as a span and as a log event"
    )
    min_count: Annotated[int, Field(ge=0)] = Field(
        0, description="a window with fewer events gives no point"
    )
    allow_negative: bool = Field(
        False, description="take negative values (otherwise a bad value, counted and skipped)"
    )
    params: dict[str, Any] = Field(default_factory=dict, description="the estimator's knobs")
    budgets: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict,
        description="kind `budget`: per-key budgets (key: the group's values joined by `/`)",
    )
    threshold: Annotated[float, Field(gt=0, le=1)] = Field(
        0.5, description="score at or above which a window is anomalous"
    )
    for_: Annotated[int, Field(ge=1, alias="for")] = Field(
        1, description="anomalous windows in a row before an incident opens"
    )
    keep_firing_for: Annotated[int, Field(ge=1)] = Field(
        3, description="normal windows in a row before the incident resolves"
    )
    warmup: Annotated[float, BeforeValidator(parse_duration), Field(ge=0)] = Field(
        86400.0, description="event time a detector and a new key learn before they may alert"
    )
    max_keys: Annotated[int, Field(ge=1)] = Field(
        100_000,
        description="keys kept; the least recently seen are evicted (a firing one resolves)",
    )
    runbook: str | None = Field(None, description="a link shown with the incident")
    labels: dict[str, str] = Field(
        default_factory=dict, description="routing labels added to the incidents"
    )
    enabled: bool = Field(True, description="false: the detector does not run")
    noise_budget: Annotated[int | None, BeforeValidator(_noise_budget)] = Field(
        None,
        description="incidents it may open per budget period before the rest fold into one "
        "storm incident; `off`: no budget; unset: `incidents.noise_budget`",
    )

    @field_validator("params", mode="after")
    @classmethod
    def _params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        kind = info.data.get("kind")
        if kind is None:
            return value
        # Keep only what was given: unset knobs get defaults that depend on the detector
        # (e.g. `step` = the interval) when the estimator is built.
        return params_model(kind).model_validate(value).model_dump(exclude_unset=True)

    @model_validator(mode="after")
    def _consistent(self) -> DetectorSpec:
        if self.metrics and (self.field is not None or self.condition is not None):
            raise ValueError("give either `metrics` or `aggregation`/`field`/`condition`, not both")
        if not self.metrics:
            MetricSpec(
                aggregation=self.aggregation,
                field=self.field,
                combine=self.combine,
                condition=self.condition,
            )
        if self.kind in TABLE_KINDS:
            self._slices()
        else:
            ESTIMATORS[self.kind].check_spec(
                self.kind,
                [m.aggregation for m in self.metric_specs],
                self.group_by,
                self.params,
                self.budgets,
            )
        if set(self.parent_by) & set(self.group_by):
            raise ValueError("`parent_by` labels must not repeat `group_by` labels")
        stray = sorted(set(self.label_defaults) - set(self.group_by))
        if stray:
            raise ValueError(f"`label_defaults` names labels that are not in `group_by`: {stray}")
        return self

    def _slices(self) -> None:
        """Kind `slices` watches each `group_by` label on its own; an event without one
        counts in the others (its default is the empty value: no slice)."""
        if len(self.metric_specs) > 1:
            raise ValueError("kind 'slices' watches one metric; only 'hst' takes several")
        agg = self.metric_specs[0].aggregation
        if agg not in MEASURES:
            raise ValueError(
                "kind 'slices' needs `aggregation` rate or ratio (a share of hits), avg (a "
                "mean) or count (a share of the calls)"
            )
        if not self.group_by:
            raise ValueError("kind 'slices' needs `group_by`: the labels whose values it watches")
        if self.parent_by:
            raise ValueError("kind 'slices' takes no `parent_by` (new slices start from the whole)")
        if not self.params.get("alpha", 0.02) < 1.0:
            raise ValueError("params.alpha is how fast baselines forget per window: below 1")
        self.label_defaults = {**dict.fromkeys(self.group_by, ""), **self.label_defaults}

    @property
    def metric_specs(self) -> list[MetricSpec]:
        if self.metrics:
            return list(self.metrics)
        return [
            MetricSpec(
                aggregation=self.aggregation,
                field=self.field,
                combine=self.combine,
                condition=self.condition,
            )
        ]

    @property
    def display_title(self) -> str:
        return self.title or self.id.replace("-", " ").replace("_", " ").capitalize()


DEFAULTS_FILE = Path(__file__).with_name("defaults.yml")


class DefaultsError(ValueError):
    """The default detector file is broken: says the file, the line and the reason."""


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the YAML node at `loc` (or of its nearest existing parent)."""
    node, line = root, 1
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if 0 <= part < len(node.value) else None
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line


def load_detector_file(path: Path) -> list[DetectorSpec]:
    """The `detectors:` list of a YAML file, validated; errors say file:line and why."""
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise DefaultsError(f"{path}:{line}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("detectors"), list):
        raise DefaultsError(f"{path}:1: expected a mapping with a `detectors:` list")
    try:
        return DetectorsConfig.model_validate(data).detectors
    except ValidationError as exc:
        problems = [
            f"{path}:{_line_of(root, tuple(e['loc']))}: "
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors()
        ]
        raise DefaultsError("\n".join(problems)) from exc


_DEFAULTS: list[DetectorSpec] = []


def default_detectors() -> list[DetectorSpec]:
    """The default set for Claude Code telemetry, from `defaults.yml`.

    Read and validated once, at import; each call returns fresh copies (specs are mutable).
    """
    return [spec.model_copy(deep=True) for spec in _DEFAULTS]


class DetectorsConfig(BaseModel):
    """All detectors. Default: the embedded set for Claude Code telemetry."""

    model_config = ConfigDict(extra="forbid")

    detectors: list[DetectorSpec] = Field(
        default_factory=default_detectors, description="the detectors; replaces the default set"
    )

    @field_validator("detectors", mode="after")
    @classmethod
    def _unique(cls, value: list[DetectorSpec]) -> list[DetectorSpec]:
        seen: set[str] = set()
        for spec in value:
            if spec.id in seen:
                raise ValueError(f"duplicate detector id {spec.id!r}")
            seen.add(spec.id)
        return value


_DEFAULTS.extend(load_detector_file(DEFAULTS_FILE))

__all__ = [
    "DEFAULTS_FILE",
    "SEVERITIES",
    "CapacityConfig",
    "DedupSpec",
    "DefaultsError",
    "DetectorSpec",
    "DetectorsConfig",
    "MetricSpec",
    "default_detectors",
    "load_detector_file",
]
