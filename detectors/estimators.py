"""Which estimator implements which detector kind, and how its parameters are completed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from detectors.absence import Absence
from detectors.budget import BudgetBurn
from detectors.capacity import CapacityForecast
from detectors.changepoint import ChangePoint
from detectors.creep import CallCreep
from detectors.ensemble import Ensemble
from detectors.ewma import EwmaChart
from detectors.halfspace import HalfSpaceScorer
from detectors.joint_surge import JointSurge
from detectors.likelihood import AnomalyLikelihood
from detectors.new_value import NewValue
from detectors.seasonal import SeasonalBaseline
from detectors.shared_move import SharedMove
from detectors.slices import SliceParams
from detectors.slowdown import Slowdown
from detectors.steady_surge import SteadySurge
from detectors.sustained import SustainedSurge
from detectors.window_model import AnyKindModel

# Every detector kind, and the model class that implements it (its parameters are the class's
# `Params`). A new kind is a `WindowModel` subclass added here.
ESTIMATORS: dict[str, type[AnyKindModel]] = {
    "likelihood": AnomalyLikelihood,
    "seasonal": SeasonalBaseline,
    "ewma": EwmaChart,
    "changepoint": ChangePoint,
    "creep": CallCreep,
    "hst": HalfSpaceScorer,
    "new_value": NewValue,
    "absence": Absence,
    "budget": BudgetBurn,
    "ensemble": Ensemble,
    "capacity": CapacityForecast,
    "sustained": SustainedSurge,
    "slowdown": Slowdown,
    "steady_surge": SteadySurge,
    "joint_surge": JointSurge,
    "shared_move": SharedMove,
}
# Kinds judged over a table of slices rather than one series per key: their state is their
# own (`detectors.slice_state.SliceState`), their parameters the dataclass named here.
TABLE_KINDS: dict[str, type[Any]] = {"slices": SliceParams}
KINDS = tuple(ESTIMATORS)  # the kinds that score one series (`spanwatch score`)


def params_class(kind: str) -> type[Any]:
    """The dataclass of a kind's YAML `params`."""
    return TABLE_KINDS[kind] if kind in TABLE_KINDS else ESTIMATORS[kind].Params


# How a window's value comes from its events, for the noise floor of sigma.
_NOISE = {
    "count": "poisson",
    "distinct": "poisson",
    "sum": "compound",
    "rate": "binomial",
    "ratio": "binomial",
}


def build_params(
    kind: str, given: Mapping[str, Any], *, step: float | None = None, aggregation: str = ""
) -> Any:
    """The kind's params dataclass from the given knobs plus context-dependent defaults."""
    cls = params_class(kind)
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


def new_estimator(kind: str, params: object) -> AnyKindModel:
    """A fresh model of a kind, for a key without labels (a series scored on its own)."""
    return ESTIMATORS[kind].for_key(params, {}, {})
