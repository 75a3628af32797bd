"""Capacity: a model's usage in a region projected against the account's Bedrock quota.

Throttling starts when a model's tokens or requests per minute reach the account's quota in a
region; raising a quota takes AWS days. So the alert is ahead of time: the per-minute rate is
forecast (`SeasonalHolt`: a damped trend on top of the usual daily and weekly shape) over the
`horizon`, and the score is 0.5 when the projection's peak reaches `share` (80%) of the quota,
rising steeply above. A morning rise the daily profile expects is no trend; a steady climb on
top of it is, and is projected to level off rather than run away (the damping). When the
projection falls back below the mark the key stops scoring and the incident resolves.

One key is one (model, region): the quota comes from `params.quotas` or the documented defaults
(`detectors.quotas`), matched on the canonical model name and the region. A window's value is a
number (requests; or quota tokens already summed) or, with two metrics, [input tokens, output
tokens]: output tokens are weighed by the model's burndown rate, as Bedrock counts them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.forecast import DAY, ForecastParams, SeasonalHolt
from detectors.persist import restore_slots
from detectors.quotas import Quota, find_quota, output_burndown
from detectors.scoring import ratio_score
from detectors.timeparse import iso
from detectors.window_model import WindowModel

# A window's usage: requests or input tokens, or with output tokens both (None: no value).
Usage = float | list[float | None]

MINUTE = 60.0
QUOTA_NAMES = {"tokens": "tokens per minute", "requests": "requests per minute"}


@dataclass(frozen=True)
class CapacityParams:
    """quota: tokens|requests; share: the part of the quota that alerts (0.8); horizon: how
    far ahead the projection looks; quotas: the account's quota entries (tried before the
    defaults). The half-lives and `damping` tune the forecast (see `ForecastParams`)."""

    quota: str = "tokens"
    share: float = 0.8
    horizon: float = 3600.0
    step: float = 60.0
    level_half_life: float = 600.0
    trend_half_life: float = 1800.0
    damping: float = 3600.0
    profile_half_life: float = 14 * DAY
    shape_prior: float = 1.0
    quotas: tuple[Quota, ...] = ()

    def __post_init__(self) -> None:
        entries = tuple(q if isinstance(q, Quota) else Quota(**q) for q in self.quotas)
        object.__setattr__(self, "quotas", entries)

    def forecast_params(self) -> ForecastParams:
        return ForecastParams(
            step=self.step,
            level_half_life=self.level_half_life,
            trend_half_life=self.trend_half_life,
            damping=self.damping,
            profile_half_life=self.profile_half_life,
            shape_prior=self.shape_prior,
        )


class CapacityForecast(WindowModel[CapacityParams, Usage, Usage]):
    """Per (model, region): the usage per minute, forecast, against `share` of the quota.

    >>> p = CapacityParams(quota="requests", quotas=({"model": "m", "requests_per_minute": 100},))
    >>> c = CapacityForecast(p, {"model": "m", "region": "r"})
    >>> for i in range(300):
    ...     c.learn_one(40.0, i * 60.0)
    >>> c.score_one(40.0, 300 * 60.0) < 0.2
    True
    >>> for i in range(300, 400):  # climbing by half a request per minute, each minute
    ...     c.learn_one(40.0 + (i - 300) / 2, i * 60.0)
    >>> c.score_one(90.0, 400 * 60.0) > 0.5
    True
    """

    __slots__ = ("burndown", "f", "limit", "p", "source")
    Params = CapacityParams
    inherits = False

    def __init__(
        self, params: CapacityParams | None = None, group: Mapping[str, str] | None = None
    ) -> None:
        self.p = params or CapacityParams()
        group = group or {}
        model, region = str(group.get("model", "")), str(group.get("region", ""))
        quota = find_quota(model, region, self.p.quota, self.p.quotas)
        self.limit: float | None = quota.limit(self.p.quota) if quota is not None else None
        self.source = None
        if quota is not None:
            origin = "configured" if quota in self.p.quotas else "default"
            self.source = f"{origin}: {quota.pattern}"
        self.burndown = output_burndown(model, region, self.p.quotas)
        self.f = SeasonalHolt(self.p.forecast_params())

    __setstate__ = restore_slots

    def usage(self, x: Usage) -> float:
        """Quota units per minute in the window: output tokens weighed by the burndown rate."""
        if isinstance(x, list | tuple):
            used = float(x[0] or 0.0) + self.burndown * float(x[1] or 0.0 if len(x) > 1 else 0.0)
        else:
            used = float(x or 0.0)
        return used * MINUTE / self.p.step

    def _steps(self) -> int:
        return max(1, math.ceil(self.p.horizon / self.p.step))

    def projection(self, x: Usage, t: float) -> list[float]:
        """The forecast per-minute usage of each step of the horizon after the window at t."""
        return self.f.forecast(t, self._steps(), x=self.usage(x))

    def score_one(self, x: Usage, t: float, n: int = 0) -> float:
        if not self.limit:
            return 0.0
        mark = self.p.share * self.limit
        rate = self.usage(x)
        # Most minutes are far below the mark: a bound of the whole projection (the level after
        # this point, its trend fully extrapolated, times the busiest time of the week) under a
        # quarter of the mark scores nothing worth the forecast.
        if self.f.ceiling(t, self._steps(), rate) < 0.25 * mark:
            return 0.0
        return ratio_score(max(self.projection(x, t)) / mark)

    def describe(self, x: Usage, t: float, n: int = 0) -> dict[str, Any]:
        path = self.projection(x, t)
        peak = max(path)
        out: dict[str, Any] = {
            "quota": QUOTA_NAMES.get(self.p.quota, self.p.quota),
            "per_minute": round(self.usage(x), 3),
            "projected_peak": round(peak, 3),
            "horizon_minutes": round(self.p.horizon / MINUTE, 3),
        }
        if self.p.quota == "tokens":
            out["output_burndown"] = self.burndown
        if self.limit:
            mark = self.p.share * self.limit
            out.update(
                limit=self.limit,
                quota_source=self.source,
                alert_share=self.p.share,
                projected_share=round(peak / self.limit, 4),
                crosses_alert_share_at=self._first_at(path, mark, t),
                crosses_quota_at=self._first_at(path, self.limit, t),
            )
        else:
            out["limit"] = None
        return out

    def _first_at(self, path: list[float], level: float, t: float) -> str | None:
        for k, v in enumerate(path, start=1):
            if v >= level:
                return iso(t + k * self.p.step)
        return None

    def learn_one(self, x: Usage, t: float, n: int = 0) -> None:
        self.f.learn_one(self.usage(x), t)

    def is_warm(self, t: float, warmup: float) -> bool:
        return self.f.is_warm(t, warmup)

    @classmethod
    def for_key(
        cls, params: CapacityParams, labels: Mapping[str, str], budgets: Mapping[str, float]
    ) -> CapacityForecast:
        """The quota follows the key's model and region."""
        return cls(params, labels)

    @classmethod
    def with_account_quotas(
        cls, params: Mapping[str, Any], quotas: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """The detector's own quotas first, then the account's."""
        return {**params, "quotas": [*params.get("quotas", []), *quotas]}

    @classmethod
    def check_spec(
        cls,
        kind: str,
        aggregations: Sequence[str],
        group_by: Sequence[str],
        params: Mapping[str, Any],
        budgets: Mapping[str, float],
    ) -> None:
        if len(aggregations) > 2:
            raise ValueError(
                f"kind {kind!r} watches one metric; only 'hst' takes several"
                " (capacity: input and output tokens)"
            )
        if any(agg not in ("sum", "count") for agg in aggregations):
            raise ValueError("kind 'capacity' needs `aggregation: count` (requests) or sum")
        if "model" not in group_by:
            raise ValueError(
                "kind 'capacity' needs `group_by: [model, region]` (quotas are per model)"
            )
        if not 0.0 < params.get("share", 0.8) <= 1.0:
            raise ValueError(
                "params.share is the part of the quota that alerts: above 0, at most 1"
            )
