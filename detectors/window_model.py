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
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

from detectors.rollup import Accumulator, empty_value

ParamsT = TypeVar("ParamsT")
"""A kind's parameters: a frozen dataclass whose fields are the YAML `params`."""
PointT = TypeVar("PointT")
"""A window's value as a key learns it (`point`, `empty_point`, `series_point`), and what a
key's parents are taught of it (`taught`)."""
JudgedT = TypeVar("JudgedT")
"""What a window is scored and described as (`judged`; by default its point as it is, and the
kind names its point's type twice). A point
itself is judged as it is when nothing judges it first: an empty window, a series scored on its
own (`spanwatch score`), so a kind whose `judged` reshapes the point takes both forms."""

# What each detector's state keeps a bookkeeping of while several keys agree (`taught`): keys
# by the value they showed.
PendingKeys = dict[str, set[tuple[str, ...]]]
# Kinds that judge a key beside its peers: per cell of the reference (a model in a region),
# a window's (hits, events), and what it adds to the peers' sums (hits, events, hits expected).
PeerCells = dict[str, tuple[float, float]]
PeerCounts = dict[str, tuple[float, float, float]]


class WindowModel(Generic[ParamsT, PointT, JudgedT]):
    """One key's model: scores a closed window's value, then learns it.

    The verbs take `x` (the window's value, see `point`; judged, see `judged`, when scored),
    `t` (the window's start) and `n` (how many events made it; 0 = unknown or none). State is
    plain attributes, so models copy and pickle (Bytewax snapshots them).
    """

    __slots__ = ()

    # The kind's parameters class (`ParamsT` itself, for the registry and the configuration).
    Params: type[ParamsT]
    # Whether a new key starts from its parent's (or the detector's) baseline via `spawn`.
    inherits: ClassVar[bool] = True
    # Whether its keys are told, each window, how their peers fare (see `peer_state`).
    hears_peers: ClassVar[bool] = False

    # -- the verbs -----------------------------------------------------------------------------

    def score_one(self, x: JudgedT, t: float, n: int = 0) -> float:
        """How anomalous x is, in [0, 1], without learning it."""
        raise NotImplementedError

    def learn_one(self, x: PointT, t: float, n: int = 0) -> None:
        raise NotImplementedError

    def score_in_alert(self, x: JudgedT, t: float, n: int = 0) -> float:
        """The score of a key whose alert is opening or firing. A model that suppresses
        repeats (`repeat`) does not here: a repeat opens no new alert, but a problem that
        lasts keeps the one it opened (`for`, `keep_firing_for` count its windows)."""
        return self.score_one(x, t, n)

    def describe(self, x: JudgedT, t: float, n: int = 0) -> dict[str, Any]:
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
    def point(
        cls, accs: Sequence[Accumulator], aggregations: Sequence[str], min_count: int
    ) -> PointT | None:
        """A window's value from its accumulators (None: the window is no point). By default
        the one metric's value, or the list of several metrics' values."""
        if len(accs) > 1:
            values = [a.value(g, min_count) for a, g in zip(accs, aggregations, strict=True)]
            return cast(PointT, values)
        return cast(PointT | None, accs[0].value(aggregations[0], min_count))

    @classmethod
    def empty_point(cls, aggregations: Sequence[str]) -> PointT | None:
        """The value of a window without events (None: such a window is no point, and only
        the keys with events are visited when a window closes). By default the one metric's
        value of no events."""
        return cast(PointT | None, empty_value(aggregations[0]))

    @classmethod
    def skips_empty_windows(cls, params: ParamsT) -> bool:
        """Whether an empty window of an `active` key is neither scored nor learned."""
        return False

    def peer_state(self, t: float, has_events: bool) -> tuple[bool, float] | None:
        """(whether the key is expected at work at t, hours since its last activity: 0 with
        events in this window), for its peers' sake (`hears_peers`); None while it knows too
        little to say."""
        return None

    def hear_peers(self, share: float | None) -> None:
        """Before the window is judged: the other keys at work (active within the hour), as
        a share of those expected at work (at most 1); 0 when none is expected and no key, this
        one included, has been at work for hours; None when no other key can say, or when none
        is expected but one (this one too) was at work lately (a key alone in its hours).
        Only `hears_peers` kinds are told."""

    @property
    def active(self) -> bool:
        """Whether the key has had a window with activity (see `skips_empty_windows`)."""
        return True

    @classmethod
    def series_point(cls, value: float, raw: str) -> PointT:
        """A point of a `timestamp,value` series (`spanwatch score`) as this kind takes it (by
        default the number)."""
        return cast(PointT, value)

    def judged(
        self,
        x: PointT,
        parent: Self | None,
        root: Self | None,
        t: float,
        warmup: float,
        key: tuple[str, ...] = (),
    ) -> JudgedT:
        """What of a window with events is scored, given the key's parent model and the
        detector's root model (the window's value itself, unless the kind judges otherwise)."""
        return cast(JudgedT, x)

    # -- the other keys of the same window (kinds that judge a key beside its peers) ----------

    @classmethod
    def judges_peers(cls, params: ParamsT) -> bool:
        """Whether each key's window is judged beside the other keys' windows of the same
        close: `peer_counts` of every key with events are summed, and each key is told the
        sums without its own (`see_peers`) before it is scored and learnt."""
        return False

    def peer_cells(self, x: PointT, n: int, accs: Sequence[Accumulator]) -> PeerCells:
        """The window's (hits, events) per cell of its peers' reference (a model in a region:
        a key is judged beside the other keys' windows of the cells it calls); one cell ""
        when the kind does not tell cells apart."""
        return {}

    def peer_counts(self, x: PointT, n: int, cells: PeerCells) -> PeerCounts | None:
        """What this key's window adds to the sums its peers see, per cell (for a rate: hits,
        events, and the hits its learned rate expects); None: nothing."""
        return None

    def see_peers(self, others: PeerCounts, mix: Mapping[str, float], t: float) -> None:
        """The other keys' sums per cell in the window at t being closed, and this key's own
        events per cell there (`mix`: which cells its window is to be judged beside)."""

    def due(self, t: float) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
        """Asked of the detector's root model at each close: (key, evidence) of alerts it held
        back that are due at t (none, unless the kind holds news back)."""
        return []

    def taught(
        self,
        key: tuple[str, ...],
        x: PointT,
        root: Self | None,
        pending: PendingKeys,
        max_keys: int,
    ) -> PointT:
        """What of a key's window its parents learn (`pending`: the detector's own bookkeeping
        for kinds that wait for several keys to agree)."""
        return x


AnyKindModel = WindowModel[Any, Any, Any]
"""A model of whichever kind: what the registry and a detector's state hold side by side."""
