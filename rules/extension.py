"""The `spanwatch:` attribute of a rule: what Sigma has no word for (grouping, routing, runbook)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .timeutil import parse_duration


class SpanwatchExtension(BaseModel):
    """`spanwatch: {group-by: [...], labels: {...}, runbook: URL, resolve-after: 30m,
    noise-budget: 20}`.

    `noise-budget`: incidents this rule may open per budget period (`incidents.noise_budget`)
    before the rest fold into one storm incident; `off` for none. Unset: the global budget.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    group_by: list[str] | None = Field(default=None, alias="group-by")
    labels: dict[str, str] = Field(default_factory=dict)
    runbook: str | None = None
    resolve_after: float | None = Field(default=None, alias="resolve-after")
    noise_budget: int | None = Field(default=None, alias="noise-budget")

    @field_validator("group_by", mode="before")
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


def noise_budget_value(value: Any) -> int | None:
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
