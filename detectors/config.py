"""Detector configuration (spanwatch YAML, `detectors:` section), validated by pydantic v2.

`DetectorsConfig()` is the embedded default set for Claude Code telemetry. Every error
carries a precise `loc` (e.g. `detectors.3.params.z`) that the engine's YAML loader turns
into file:line.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from detectors.absence import AbsenceParams
from detectors.budget import BudgetParams
from detectors.changepoint import ChangePointParams
from detectors.ewma import EwmaParams
from detectors.halfspace import HalfSpaceParams
from detectors.model import SEVERITIES
from detectors.new_value import NewValueParams
from detectors.rollup import AGGREGATIONS
from detectors.seasonal import SeasonalParams
from detectors.timeparse import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Scalar = str | int | float | bool
Matcher = dict[str, Scalar | list[Scalar]]
Kind = Literal["seasonal", "ewma", "changepoint", "hst", "new_value", "absence", "budget"]
Aggregation = Literal[
    "count", "sum", "avg", "min", "max", "p50", "p95", "p99", "rate", "ratio", "distinct"
]
assert set(Aggregation.__args__) == set(AGGREGATIONS)

PARAMS: dict[str, type] = {
    "seasonal": SeasonalParams,
    "ewma": EwmaParams,
    "changepoint": ChangePointParams,
    "hst": HalfSpaceParams,
    "new_value": NewValueParams,
    "absence": AbsenceParams,
    "budget": BudgetParams,
}
_CHOICES: dict[str, Any] = {
    "direction": Literal["up", "down", "both"],
    "noise": Literal["none", "poisson", "compound", "binomial"],
    "method": Literal["page_hinkley", "adwin"],
    "period": Literal["day", "month"],
}
_DURATIONS = frozenset({"step", "tau", "min_history"})
_ZERO_OK = frozenset({"budget", "min_points", "adapt_after", "seed"})
_FIELD_RE = r"^[A-Za-z_][A-Za-z0-9_.\-]*$"


@cache
def params_model(kind: str) -> type[BaseModel]:
    """A strict pydantic model of one kind's parameters, built from its dataclass."""
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(PARAMS[kind]):
        if f.name in _CHOICES:
            annotation: Any = _CHOICES[f.name]
        elif f.name in _DURATIONS:
            annotation = Duration
        elif f.type in ("int", int):
            annotation = Annotated[int, Field(ge=0 if f.name in _ZERO_OK else 1)]
        else:
            annotation = Annotated[float, Field(ge=0) if f.name in _ZERO_OK else Field(gt=0)]
        fields[f.name] = (annotation, f.default)
    return create_model(  # type: ignore[call-overload]
        f"{kind}_params", __config__=ConfigDict(extra="forbid"), **fields
    )


class MetricSpec(BaseModel):
    """One rolled-up metric: an aggregation of an event field (or condition) per window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    aggregation: Aggregation = "count"
    field: (
        Annotated[str, Field(pattern=_FIELD_RE)]
        | list[Annotated[str, Field(pattern=_FIELD_RE)]]
        | None
    ) = None
    condition: Matcher | None = None

    @model_validator(mode="after")
    def _needs(self) -> MetricSpec:
        agg = self.aggregation
        if agg in ("sum", "avg", "min", "max", "p50", "p95", "p99", "distinct") and not self.field:
            raise ValueError(f"aggregation {agg!r} needs a `field`")
        if agg == "rate" and not self.condition:
            raise ValueError("aggregation 'rate' needs a `condition` (e.g. {status: error})")
        if agg == "ratio" and not (self.field or self.condition):
            raise ValueError("aggregation 'ratio' needs a boolean `field` or a `condition`")
        if agg == "distinct" and isinstance(self.field, list):
            raise ValueError("aggregation 'distinct' takes one `field`")
        return self

    @property
    def fields(self) -> tuple[str, ...]:
        if self.field is None:
            return ()
        return (self.field,) if isinstance(self.field, str) else tuple(self.field)


class DetectorSpec(BaseModel):
    """One detector: which events, which metric, per which key, which estimator, when to alert."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*$", max_length=100)]
    kind: Kind
    title: str = ""
    severity: Literal["info", "low", "medium", "high", "critical"] = "medium"
    aggregation: Aggregation = "count"
    field: (
        Annotated[str, Field(pattern=_FIELD_RE)]
        | list[Annotated[str, Field(pattern=_FIELD_RE)]]
        | None
    ) = None
    condition: Matcher | None = None
    metrics: list[MetricSpec] = Field(default_factory=list)
    filter: Matcher = Field(default_factory=dict)
    exclude: Matcher = Field(default_factory=dict)
    interval: Duration = 300.0
    group_by: list[Annotated[str, Field(pattern=_FIELD_RE)]] = Field(default_factory=list)
    parent_by: list[Annotated[str, Field(pattern=_FIELD_RE)]] = Field(default_factory=list)
    min_count: Annotated[int, Field(ge=0)] = 0
    allow_negative: bool = False
    params: dict[str, Any] = Field(default_factory=dict)
    budgets: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    threshold: Annotated[float, Field(gt=0, le=1)] = 0.5
    for_: Annotated[int, Field(ge=1, alias="for")] = 1
    keep_firing_for: Annotated[int, Field(ge=1)] = 3
    warmup: Annotated[float, BeforeValidator(parse_duration), Field(ge=0)] = 86400.0
    max_keys: Annotated[int, Field(ge=1)] = 100_000
    runbook: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True

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
            MetricSpec(aggregation=self.aggregation, field=self.field, condition=self.condition)
        if self.kind == "hst" and len(self.metric_specs) < 2:
            raise ValueError("kind 'hst' watches several metrics: give `metrics` (two or more)")
        if self.kind != "hst" and len(self.metrics) > 1:
            raise ValueError(f"kind {self.kind!r} watches one metric; only 'hst' takes several")
        agg = self.metric_specs[0].aggregation
        if self.kind == "new_value" and agg != "distinct":
            raise ValueError("kind 'new_value' needs `aggregation: distinct` and a `field`")
        if self.kind == "absence" and agg not in ("count", "sum"):
            raise ValueError("kind 'absence' needs `aggregation: count` (or sum)")
        if self.kind == "budget":
            if agg != "sum":
                raise ValueError("kind 'budget' needs `aggregation: sum` of a spend `field`")
            if not self.params.get("budget") and not self.budgets:
                raise ValueError("kind 'budget' needs `params.budget` (or per-key `budgets`)")
        if set(self.parent_by) & set(self.group_by):
            raise ValueError("`parent_by` labels must not repeat `group_by` labels")
        return self

    @property
    def metric_specs(self) -> list[MetricSpec]:
        if self.metrics:
            return list(self.metrics)
        return [
            MetricSpec(aggregation=self.aggregation, field=self.field, condition=self.condition)
        ]

    @property
    def display_title(self) -> str:
        return self.title or self.id.replace("-", " ").replace("_", " ").capitalize()


def _d(**kw: Any) -> DetectorSpec:
    return DetectorSpec.model_validate(kw)


_INVOKE = {"name": "claude.invoke"}
_TOKENS = ["tokens_in", "tokens_out"]
RUNBOOK = "https://github.com/spanwatch/spanwatch/blob/main/docs/runbooks/detectors.md"


def default_detectors() -> list[DetectorSpec]:
    """The embedded default set for Claude Code telemetry (issue 4, item 4).

    Per-user rollups use 15-minute windows and a stricter z (10): one person's activity is
    bursty (sessions), while a runaway agent is an order of magnitude above it for an hour.
    """
    return [
        _d(
            id="cost-per-team",
            kind="seasonal",
            title="Cost spike for team {team}",
            severity="high",
            aggregation="sum",
            field="cost",
            filter=_INVOKE,
            group_by=["team"],
            params={"direction": "up"},
            **{"for": 2},
        ),
        _d(
            id="cost-per-user",
            kind="seasonal",
            title="Cost spike for user {user}",
            severity="high",
            aggregation="sum",
            field="cost",
            filter=_INVOKE,
            group_by=["user"],
            parent_by=["team"],
            params={"direction": "up", "z": 10},
            max_keys=200_000,
            interval="15m",
        ),
        _d(
            id="tokens-per-team",
            kind="seasonal",
            title="Token burn spike for team {team}",
            severity="medium",
            aggregation="sum",
            field=_TOKENS,
            filter=_INVOKE,
            group_by=["team"],
            params={"direction": "up"},
            **{"for": 2},
        ),
        _d(
            id="tokens-per-user",
            kind="seasonal",
            title="Token burn spike for user {user}",
            severity="medium",
            aggregation="sum",
            field=_TOKENS,
            filter=_INVOKE,
            group_by=["user"],
            parent_by=["team"],
            params={"direction": "up", "z": 10},
            max_keys=200_000,
            interval="15m",
        ),
        _d(
            id="tokens-per-invocation-drift",
            kind="changepoint",
            title="Tokens per invocation drifting up for team {team}",
            severity="medium",
            aggregation="avg",
            field=_TOKENS,
            filter=_INVOKE,
            group_by=["team"],
            interval="15m",
            min_count=5,
            params={"direction": "up"},
        ),
        _d(
            id="invocations-per-user",
            kind="seasonal",
            title="Runaway invocations for user {user}",
            severity="high",
            aggregation="count",
            filter=_INVOKE,
            group_by=["user"],
            parent_by=["team"],
            params={"direction": "up", "noise": "poisson", "z": 10},
            max_keys=200_000,
            interval="15m",
        ),
        _d(
            id="error-rate-per-model-region",
            kind="ewma",
            title="Error rate up for {model} in {region}",
            severity="high",
            aggregation="rate",
            condition={"status": "error"},
            filter=_INVOKE,
            group_by=["model", "region"],
            min_count=10,
            params={"direction": "up"},
            **{"for": 2},
        ),
        _d(
            id="error-rate-per-user",
            kind="ewma",
            title="Error burst for user {user}",
            severity="medium",
            aggregation="rate",
            condition={"status": "error"},
            filter=_INVOKE,
            group_by=["user"],
            parent_by=["team"],
            min_count=5,
            params={"direction": "up"},
            max_keys=200_000,
            **{"for": 2},
        ),
        _d(
            id="latency-p95-per-model-region",
            kind="ewma",
            title="p95 latency up for {model} in {region}",
            severity="high",
            aggregation="p95",
            field="latency_ms",
            # Failed calls have their own latency (a throttle answers at once, a timeout
            # after a minute) and their own detector; a p95 needs a score of samples, or
            # it is just the window's slowest call.
            filter={**_INVOKE, "status": "ok"},
            group_by=["model", "region"],
            interval="15m",
            min_count=20,
            params={"direction": "up"},
            **{"for": 2},
        ),
        _d(
            id="cache-hit-ratio-per-workflow",
            kind="ewma",
            title="Cache-hit ratio down for workflow {workflow}",
            severity="low",
            aggregation="ratio",
            field="cache_hit",
            filter={"name": "cache.lookup"},
            group_by=["workflow"],
            interval="15m",
            min_count=10,
            params={"direction": "down"},
            **{"for": 2},
        ),
        _d(
            id="new-region-per-user",
            kind="new_value",
            title="User {user} uses a new region",
            severity="medium",
            aggregation="distinct",
            field="region",
            filter=_INVOKE,
            group_by=["user"],
            parent_by=["team"],
            max_keys=200_000,
            keep_firing_for=1,
        ),
        _d(
            id="new-model-per-team",
            kind="new_value",
            title="Team {team} uses a new model",
            severity="low",
            aggregation="distinct",
            field="model",
            filter=_INVOKE,
            group_by=["team"],
            keep_firing_for=1,
        ),
        _d(
            id="team-silent",
            kind="absence",
            title="Team {team} went silent",
            severity="high",
            aggregation="count",
            group_by=["team"],
        ),
        _d(
            id="team-monthly-budget",
            kind="budget",
            title="Team {team} will overspend its monthly budget",
            severity="medium",
            aggregation="sum",
            field="cost",
            filter=_INVOKE,
            group_by=["team"],
            interval="1h",
            params={"budget": 50_000, "period": "month"},
            warmup="6h",
            keep_firing_for=24,
        ),
    ]


class DetectorsConfig(BaseModel):
    """All detectors. Default: the embedded set for Claude Code telemetry."""

    model_config = ConfigDict(extra="forbid")

    detectors: list[DetectorSpec] = Field(default_factory=default_detectors)

    @field_validator("detectors", mode="after")
    @classmethod
    def _unique(cls, value: list[DetectorSpec]) -> list[DetectorSpec]:
        seen: set[str] = set()
        for spec in value:
            if spec.id in seen:
                raise ValueError(f"duplicate detector id {spec.id!r}")
            seen.add(spec.id)
        return value


__all__ = ["SEVERITIES", "DetectorSpec", "DetectorsConfig", "MetricSpec", "default_detectors"]
