"""The `spanwatch:` attribute of a rule: what Sigma has no word for (grouping, routing, runbook)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .evidence import KEY_FIELDS
from .norms import NormSpec
from .timeutil import parse_duration


class DedupExtension(BaseModel):
    """`dedup: {by: session, prefer: {name: claude.invoke}}` on a correlation rule: one call,
    one count, when the same calls arrive as the wrapper's spans and Claude Code's events.

    Once an input of a `by` value (a session) matches `prefer`, the rule's other inputs of that
    value are the same calls seen twice and are left out; until then they count. `by` and the
    fields of `prefer` are among the key fields every input keeps (name, session, user, ...).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: str = "session"
    prefer: dict[str, str | list[str]] = Field(min_length=1)

    @field_validator("by")
    @classmethod
    def _key_field(cls, value: str) -> str:
        if value not in KEY_FIELDS:
            raise ValueError(f"`by` must be one of {', '.join(KEY_FIELDS)}")
        return value

    @field_validator("prefer")
    @classmethod
    def _key_fields(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        unknown = sorted(set(value) - set(KEY_FIELDS))
        if unknown:
            raise ValueError(f"`prefer` may test only {', '.join(KEY_FIELDS)}, not {unknown}")
        return value

    def compiled(self) -> tuple[str, tuple[tuple[str, frozenset[str]], ...]]:
        """(by, ((field, accepted lower-cased values), ...)): plain data for the rule's state."""
        prefer = tuple(
            (f, frozenset(str(v).lower() for v in (want if isinstance(want, list) else [want])))
            for f, want in sorted(self.prefer.items())
        )
        return self.by, prefer


class NormExtension(BaseModel):
    """`norm: {by: team, quantile: 0.99, factor: 2, prior: 20}` on a correlation: a group's
    threshold is also `factor` times the `quantile` of its own block peaks, shrunk towards its
    `by` group's typical member's as if that were `prior` blocks (see rules.norms). The
    condition's number stays as the floor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: str | None = "team"
    quantile: float = Field(0.99, gt=0.0, le=1.0)
    factor: float = Field(2.0, ge=1.0)
    prior: float = Field(20.0, ge=0.0)

    @field_validator("by")
    @classmethod
    def _key_field(cls, value: str | None) -> str | None:
        if value is not None and value not in KEY_FIELDS:
            raise ValueError(f"`by` must be one of {', '.join(KEY_FIELDS)}")
        return value

    def compiled(self) -> NormSpec:
        return NormSpec(by=self.by, quantile=self.quantile, factor=self.factor, prior=self.prior)


class ShareExtension(BaseModel):
    """`share: {of: [model_call], min: 0.5}` on an event_count correlation: inputs of the `of`
    rules (listed in the correlation's `rules` too) are the calls; the others are counted, and
    the condition also needs them to be at least `min` of the calls in the window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    of: list[str] = Field(min_length=1)
    min: float = Field(gt=0.0, le=1.0)

    @field_validator("of", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class SpanwatchExtension(BaseModel):
    """`spanwatch: {group-by: [...], labels: {...}, runbook: URL, resolve-after: 30m,
    noise-budget: 20, reset-on: [rule, ...], count: new-values, norm: {...},
    share: {of: [rule], min: 0.5}, produces: finding}`.

    `produces`: `incident` (paged: routed, notified, escalated) or `finding` (recorded and
    counted, delivered in a periodic digest, never paged). Unset: `finding` for a rule tagged
    `spanwatch.quality`, else `incident` (see `produces_of`).

    `reset-on` (correlations): detection rules whose match empties the window of the group it
    belongs to, so that the condition counts only what came after it (a passing assertion ends
    a run of failures).
    `noise-budget`: incidents this rule may open per budget period (`incidents.noise_budget`)
    before the rest fold into one storm incident; `off` for none. Unset: the global budget.
    `count: new-values` (value_count correlations): count only the values first seen within the
    timespan (sessions started, not sessions active); a value is remembered while it keeps
    appearing and forgotten once idle longer than the timespan.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    group_by: list[str] | None = Field(default=None, alias="group-by")
    labels: dict[str, str] = Field(default_factory=dict)
    runbook: str | None = None
    resolve_after: float | None = Field(default=None, alias="resolve-after")
    noise_budget: int | None = Field(default=None, alias="noise-budget")
    dedup: DedupExtension | None = None
    reset_on: list[str] | None = Field(default=None, alias="reset-on", min_length=1)
    count: Literal["values", "new-values"] | None = None
    norm: NormExtension | None = None
    share: ShareExtension | None = None
    produces: Literal["incident", "finding"] | None = None

    @field_validator("group_by", "reset_on", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return value

    @field_validator("resolve_after", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    @field_validator("noise_budget", mode="before")
    @classmethod
    def _budget(cls, value: Any) -> Any:
        return noise_budget_value(value)


PRODUCES = ("incident", "finding")
FINDING_TAGS = frozenset({"spanwatch.quality"})  # signals for reports, not pages


def produces_of(ext: SpanwatchExtension, tags: Iterable[object]) -> str:
    """What a rule produces: its own `produces`, else `finding` for a quality-tagged rule (a
    code-quality signal is for a digest and a report, as Sigma keeps informational levels for
    hunting), else `incident`."""
    if ext.produces is not None:
        return ext.produces
    return "finding" if any(str(t).lower() in FINDING_TAGS for t in tags) else "incident"


def noise_budget_value(value: object) -> int | None:
    """`noise-budget`: a whole number of incidents (at least 1), or `off` (0: no budget)."""
    if value is None:
        return None
    if value is False or (isinstance(value, str) and value.strip().lower() in ("off", "none")):
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("noise-budget must be a whole number of incidents (1 or more) or `off`")
    return value


def parse_extension(raw: Any) -> tuple[SpanwatchExtension, list[tuple[str, str]]]:
    """The extension and a list of (key, message) problems; defaults when absent or broken."""
    if raw is None:
        return SpanwatchExtension(), []
    if not isinstance(raw, dict):
        return SpanwatchExtension(), [("spanwatch", "must be a mapping")]
    try:
        return SpanwatchExtension.model_validate(raw), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "spanwatch"
            problems.append((key, err["msg"]))
        return SpanwatchExtension(), problems
