"""Budget burn: the projected spend of a key crossing its budget before the period ends."""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.scoring import ratio_score
from detectors.timeparse import iso
from detectors.window_model import WindowModel


@dataclass(frozen=True)
class BudgetParams:
    """budget: the limit per key and period; period: day|month (UTC).

    tau: time constant (seconds) of the burn-rate average; step: seconds per point;
    min_history: seconds of history before the rate is trusted for a projection.
    """

    budget: float = 0.0
    period: str = "month"
    tau: float = 3 * 86400.0
    step: float = 300.0
    min_history: float = 6 * 3600.0


def period_bounds(t: float, period: str) -> tuple[float, float]:
    """Start and end (epoch seconds, UTC) of the day or month holding t."""
    if period == "day":
        start = (t // 86400.0) * 86400.0
        return start, start + 86400.0
    d = _dt.datetime.fromtimestamp(t, _dt.UTC)
    first = _dt.datetime(d.year, d.month, 1, tzinfo=_dt.UTC)
    nxt = _dt.datetime(d.year + (d.month == 12), d.month % 12 + 1, 1, tzinfo=_dt.UTC)
    return first.timestamp(), nxt.timestamp()


class BudgetBurn(WindowModel[BudgetParams, float, float]):
    """Anomalous means: at the current burn rate, this key will overspend its budget.

    Projected spend = spent so far this period + recent burn rate x time left. The rate is
    an exponentially weighted average (time constant `tau`, bias-corrected); the score is
    0.5 when the projection equals the budget and rises steeply above it (and is at least
    as high as the share already spent). Each point is the spend of one window of `step`
    seconds starting at t.

    >>> m = BudgetBurn(BudgetParams(budget=1000.0, period="day", step=3600.0, tau=6 * 3600.0))
    >>> for h in range(10):
    ...     m.learn_one(10.0, h * 3600.0)
    >>> m.score_one(10.0, 10 * 3600.0) < 0.1
    True
    >>> m.score_one(400.0, 10 * 3600.0) > 0.8
    True
    """

    __slots__ = ("budget", "p", "period_end", "period_start", "rate", "spent", "t0", "weight")
    Params = BudgetParams
    inherits = False

    def __init__(self, params: BudgetParams | None = None, budget: float | None = None) -> None:
        self.p = params or BudgetParams()
        self.budget = float(budget if budget is not None else self.p.budget)
        self.spent = 0.0
        self.rate = 0.0
        self.weight = 0.0
        self.period_start = -math.inf
        self.period_end = -math.inf
        self.t0: float | None = None

    def is_warm(self, t: float, warmup: float) -> bool:
        return self.t0 is not None and t - self.t0 >= warmup

    def _alpha(self) -> float:
        return 1.0 - math.exp(-self.p.step / self.p.tau)

    def projection(self, x: float, t: float) -> tuple[float, float]:
        """(spent including x, projected spend at the end of the period)."""
        end = t + self.p.step
        spent = (self.spent if t < self.period_end else 0.0) + x
        if self.t0 is None or end - self.t0 < self.p.min_history:
            return spent, spent
        a = self._alpha()
        rate = (1.0 - a) * self.rate + a * x / self.p.step
        weight = (1.0 - a) * self.weight + a
        period_end = self.period_end if t < self.period_end else period_bounds(t, self.p.period)[1]
        return spent, spent + (rate / weight) * max(0.0, period_end - end)

    def score_one(self, x: float, t: float, n: int = 0) -> float:
        if self.budget <= 0.0:
            return 0.0
        _, projected = self.projection(x, t)
        return ratio_score(projected / self.budget)

    def describe(self, x: float, t: float, n: int = 0) -> dict[str, Any]:
        spent, projected = self.projection(x, t)
        out = {
            "spent": round(spent, 6),
            "projected": round(projected, 6),
            "budget": self.budget,
            "period": self.p.period,
            "period_end": iso(period_bounds(t, self.p.period)[1]),
        }
        if self.budget > 0.0:
            out["spent_share"] = round(spent / self.budget, 4)
            out["projected_share"] = round(projected / self.budget, 4)
            out["runs_out_at"] = self._runs_out_at(spent, projected, t)
        return out

    def _runs_out_at(self, spent: float, projected: float, t: float) -> str | None:
        """When, at the projection's steady rate, the spend reaches the budget (this period)."""
        end = t + self.p.step
        if spent >= self.budget:
            return iso(end)
        period_end = period_bounds(t, self.p.period)[1]
        left = max(0.0, period_end - end)
        if projected <= self.budget or left <= 0.0:
            return None
        rate = (projected - spent) / left
        return iso(end + (self.budget - spent) / rate)

    def learn_one(self, x: float, t: float, n: int = 0) -> None:
        if self.t0 is None:
            self.t0 = t
        if t >= self.period_end or t < self.period_start:
            self.period_start, self.period_end = period_bounds(t, self.p.period)
            self.spent = 0.0
        self.spent += x
        a = self._alpha()
        self.rate = (1.0 - a) * self.rate + a * x / self.p.step
        self.weight = (1.0 - a) * self.weight + a

    @classmethod
    def for_key(
        cls, params: BudgetParams, labels: Mapping[str, str], budgets: Mapping[str, float]
    ) -> BudgetBurn:
        """The key's own budget (`budgets`, by its labels' values joined with `/`), else the
        detector's."""
        return cls(params, budgets.get("/".join(labels.values())))

    @classmethod
    def check_spec(
        cls,
        kind: str,
        aggregations: Sequence[str],
        group_by: Sequence[str],
        params: Mapping[str, Any],
        budgets: Mapping[str, float],
    ) -> None:
        super().check_spec(kind, aggregations, group_by, params, budgets)
        if aggregations[0] != "sum":
            raise ValueError("kind 'budget' needs `aggregation: sum` of a spend `field`")
        if not params.get("budget") and not budgets:
            raise ValueError("kind 'budget' needs `params.budget` (or per-key `budgets`)")

    @classmethod
    def series_problem(cls, params: BudgetParams) -> str | None:
        if params.budget <= 0:
            return "the budget detector needs --param budget=AMOUNT"
        return None
