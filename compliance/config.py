"""The `compliance:` section of the configuration: the live compliance drift detector."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from compliance.live_drift import LiveDriftParams

_DEFAULTS = LiveDriftParams()


class DriftConfig(BaseModel):
    """A team's policy adherence over its last days against its own earlier days."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="judge each team's adherence at every UTC midnight")
    window_days: int = Field(
        _DEFAULTS.window_days, ge=1, le=31, description="the trailing days judged"
    )
    baseline_days: int = Field(
        _DEFAULTS.baseline_days, ge=1, le=366, description="the days before them compared with"
    )
    alpha: float = Field(
        _DEFAULTS.alpha, gt=0, lt=1, description="one-sided p-value below which a drop opens"
    )
    resolve_alpha: float = Field(
        _DEFAULTS.resolve_alpha, gt=0, lt=1, description="p-value above which it resolves"
    )
    min_drop: float = Field(
        _DEFAULTS.min_drop,
        ge=0,
        lt=1,
        description="the smallest fall of adherence (a share: 0.03 is 3 points) that opens",
    )
    min_sessions: int = Field(
        _DEFAULTS.min_sessions, ge=1, description="sessions the window needs for a verdict"
    )
    min_baseline_sessions: int = Field(
        _DEFAULTS.min_baseline_sessions, ge=1, description="sessions the baseline needs"
    )
    min_baseline_days: int = Field(
        _DEFAULTS.min_baseline_days, ge=1, description="days with sessions the baseline needs"
    )
    severity: Literal["info", "low", "medium", "high", "critical"] = Field(
        "medium", description="severity of its incidents"
    )
    runbook: str | None = Field(None, description="runbook link shown with its incidents")

    def params(self) -> LiveDriftParams:
        return LiveDriftParams(**self.model_dump(exclude={"enabled"}))


class ComplianceConfig(BaseModel):
    """Compliance monitoring in the engine (the evidence report has its own options)."""

    model_config = ConfigDict(extra="forbid")

    drift: DriftConfig = Field(
        default_factory=DriftConfig, description="the compliance drift detector"
    )
