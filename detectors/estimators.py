"""Which estimator implements which detector kind, and how its parameters are completed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol

from detectors.absence import Absence, AbsenceParams
from detectors.budget import BudgetBurn, BudgetParams
from detectors.capacity import CapacityForecast, CapacityParams
from detectors.changepoint import ChangePoint, ChangePointParams
from detectors.ensemble import Ensemble, EnsembleParams
from detectors.ewma import EwmaChart, EwmaParams
from detectors.halfspace import HalfSpaceParams, HalfSpaceScorer
from detectors.likelihood import AnomalyLikelihood, LikelihoodParams
from detectors.new_value import NewValue, NewValueParams
from detectors.seasonal import SeasonalBaseline, SeasonalParams
from detectors.slices import SliceBaseline, SliceParams


class Estimator(Protocol):
    """The River-style verbs every detector model has (state is plain, picklable attributes)."""

    # x: the window's value; t: its start; n: how many events made it (0 = unknown).
    def score_one(self, x: Any, t: float, n: int = 0) -> float: ...  # in [0, 1], no learning
    def learn_one(self, x: Any, t: float, n: int = 0) -> None: ...
    def describe(self, x: Any, t: float, n: int = 0) -> dict: ...  # evidence for an alert
    def is_warm(self, t: float, warmup: float) -> bool: ...


ESTIMATORS: dict[str, tuple[type, type]] = {
    "likelihood": (AnomalyLikelihood, LikelihoodParams),
    "seasonal": (SeasonalBaseline, SeasonalParams),
    "ewma": (EwmaChart, EwmaParams),
    "changepoint": (ChangePoint, ChangePointParams),
    "hst": (HalfSpaceScorer, HalfSpaceParams),
    "new_value": (NewValue, NewValueParams),
    "absence": (Absence, AbsenceParams),
    "budget": (BudgetBurn, BudgetParams),
    "ensemble": (Ensemble, EnsembleParams),
    "capacity": (CapacityForecast, CapacityParams),
    "slices": (SliceBaseline, SliceParams),  # per slice; its state is `SliceState`
}
TABLE_KINDS = frozenset({"slices"})  # a window of many slices, not one series
KINDS = tuple(k for k in ESTIMATORS if k not in TABLE_KINDS)
# How a window's value comes from its events, for the noise floor of sigma.
_NOISE = {
    "count": "poisson",
    "distinct": "poisson",
    "sum": "compound",
    "rate": "binomial",
    "ratio": "binomial",
}
# Kinds whose new keys start from a parent's baseline. Absence and budget do not: a new
# team is not "expected to be active" before it has been, and budgets are per key.
INHERITS = frozenset(
    {"likelihood", "seasonal", "ewma", "changepoint", "hst", "new_value", "ensemble"}
)


def build_params(
    kind: str, given: Mapping[str, Any], *, step: float | None = None, aggregation: str = ""
) -> Any:
    """The kind's params dataclass from the given knobs plus context-dependent defaults."""
    cls = ESTIMATORS[kind][1]
    names = {f.name for f in dataclasses.fields(cls)}
    values = dict(given)
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown parameter(s) for {kind}: {', '.join(unknown)}")
    if "step" in names and "step" not in values and step:
        values["step"] = float(step)
    log = values.get("transform") == "log"
    if log and values.get("noise", "none") != "none":
        raise ValueError("transform: log and a noise model do not go together (noise: none)")
    if "noise" in names and "noise" not in values and aggregation in _NOISE and not log:
        values["noise"] = _NOISE[aggregation]
    return cls(**values)


def new_estimator(kind: str, params: Any, budget: Any = None) -> Any:
    """A fresh model for one key (`budget`: the key's budget, or for capacity its labels)."""
    cls = ESTIMATORS[kind][0]
    if kind in ("budget", "capacity"):
        return cls(params, budget)
    return cls(params)
