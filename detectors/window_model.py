"""What every detector kind's per-key model is: River's verbs over closed windows, plus what
the kind decides about windows, keys and parents.

A detector state (`detectors.detectorset.DetectorState`) keeps one model per key and asks the
model's class, never the kind's name, how a window becomes a point, what an empty window is,
how a new key's model is made and whether it starts from a parent's baseline. A new kind is a
subclass that fills in the four verbs, names its parameters dataclass, overrides whichever
window rules differ from the defaults, and is registered in `detectors.estimators`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, Self, TypeVar

from detectors.rollup import Accumulator, empty_value

ParamsT = TypeVar("ParamsT")
"""A kind's parameters: a frozen dataclass whose fields are the YAML `params`."""


class WindowModel(Generic[ParamsT]):
    """One key's model: scores a closed window's value, then learns it.

    The verbs take `x` (the window's value, see `point`), `t` (the window's start) and `n`
    (how many events made it; 0 = unknown or none). State is plain attributes, so models copy
    and pickle (Bytewax snapshots them).
    """

    __slots__ = ()

    # The kind's parameters class (`ParamsT` itself, for the registry and the configuration).
    Params: type[ParamsT]
    # Whether a new key starts from its parent's (or the detector's) baseline via `spawn`.
    inherits: ClassVar[bool] = True

    # -- the verbs -----------------------------------------------------------------------------

    def score_one(self, x: Any, t: float, n: int = 0) -> float:
        """How anomalous x is, in [0, 1], without learning it."""
        raise NotImplementedError

    def learn_one(self, x: Any, t: float, n: int = 0) -> None:
        raise NotImplementedError

    def score_in_alert(self, x: Any, t: float, n: int = 0) -> float:
        """The score of a key whose alert is opening or firing. A model that suppresses
        repeats (`repeat`) does not here: a repeat opens no new alert, but a problem that
        lasts keeps the one it opened (`for`, `keep_firing_for` count its windows)."""
        return self.score_one(x, t, n)

    def describe(self, x: Any, t: float, n: int = 0) -> dict[str, Any]:
        """Evidence for an alert on x: the value, the baseline, what was expected."""
        raise NotImplementedError

    def is_warm(self, t: float, warmup: float) -> bool:
        """Whether the model has seen enough to alert at t."""
        raise NotImplementedError

    def spawn(self) -> Self:
        """A new key's model that starts from this one's baseline (kinds that inherit)."""
        raise NotImplementedError

    # -- the kind's window rules (defaults fit single-metric numeric models) -------------------

    @classmethod
    def for_key(
        cls, params: ParamsT, labels: Mapping[str, str], budgets: Mapping[str, float]
    ) -> Self:
        """A fresh model for the key with these group labels (`budgets`: per-key budgets by the
        labels' values joined with `/`, for kinds that have them)."""
        return cls(params)  # type: ignore[call-arg]

    @classmethod
    def check_spec(
        cls,
        kind: str,
        aggregations: Sequence[str],
        group_by: Sequence[str],
        params: Mapping[str, Any],
        budgets: Mapping[str, float],
    ) -> None:
        """Raise ValueError, saying what to change, when a detector's configuration does not
        fit this kind (by default: one metric)."""
        if len(aggregations) > 1:
            raise ValueError(f"kind {kind!r} watches one metric; only 'hst' takes several")

    @classmethod
    def with_account_quotas(
        cls, params: Mapping[str, Any], quotas: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """A detector's YAML `params` once the account's quotas (`capacity.quotas`) are known:
        unchanged, unless the kind forecasts against quotas."""
        return dict(params)

    @classmethod
    def series_problem(cls, params: ParamsT) -> str | None:
        """Why a series cannot be scored with these params alone (`spanwatch score`)."""
        return None

    @classmethod
    def point(cls, accs: Sequence[Accumulator], aggregations: Sequence[str], min_count: int) -> Any:
        """A window's value from its accumulators (None: the window is no point)."""
        if len(accs) > 1:
            return [a.value(g, min_count) for a, g in zip(accs, aggregations, strict=True)]
        return accs[0].value(aggregations[0], min_count)

    @classmethod
    def empty_point(cls, aggregations: Sequence[str]) -> Any:
        """The value of a window without events (None: such a window is no point, and only
        the keys with events are visited when a window closes)."""
        return empty_value(aggregations[0])

    @classmethod
    def skips_empty_windows(cls, params: ParamsT) -> bool:
        """Whether an empty window of an `active` key is neither scored nor learned."""
        return False

    @property
    def active(self) -> bool:
        """Whether the key has had a window with activity (see `skips_empty_windows`)."""
        return True

    @classmethod
    def series_point(cls, value: float, raw: str) -> Any:
        """A point of a `timestamp,value` series (`spanwatch score`) as this kind takes it."""
        return value

    def judged(
        self,
        x: Any,
        parent: Self | None,
        root: Self | None,
        t: float,
        warmup: float,
        key: tuple[str, ...] = (),
    ) -> Any:
        """What of a window with events is scored, given the key's parent model and the
        detector's root model (the window's value itself, unless the kind judges otherwise)."""
        return x

    def due(self, t: float) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
        """Asked of the detector's root model at each close: (key, evidence) of alerts it held
        back that are due at t (none, unless the kind holds news back)."""
        return []

    def taught(
        self,
        key: tuple[str, ...],
        x: Any,
        root: Self | None,
        pending: dict[Any, set[tuple[str, ...]]],
        max_keys: int,
    ) -> Any:
        """What of a key's window its parents learn (`pending`: the detector's own bookkeeping
        for kinds that wait for several keys to agree)."""
        return x


AnyKindModel = WindowModel[Any]
"""A model of whichever kind: what the registry and a detector's state hold side by side."""
