"""Detectors as the dataflow sees them: a stateless router and one state object per detector."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from detectors import hysteresis
from detectors.config import DetectorsConfig, DetectorSpec
from detectors.estimators import ESTIMATORS, TABLE_KINDS, build_params
from detectors.json_value import Event
from detectors.model import STAT_NAMES, Observation, Signal
from detectors.recent import RecentPoints, baseline_of
from detectors.rollup import NUMERIC_INPUT, TRUTH_INPUT, Accumulator
from detectors.route_plan import NameIndex
from detectors.routing import Route, event_time
from detectors.slice_state import SliceState
from detectors.timeparse import iso
from detectors.window_model import AnyKindModel, PeerCounts, PendingKeys

MAX_CATCH_UP_WINDOWS = 7 * 24 * 12  # a longer gap in event time is skipped (and counted)

# Hours since a key's last activity under which it is at work, and under which the organisation
# was seen at work lately (a key alone in its working hours: the others' day ended lately, or
# its own began).
PEER_AT_WORK, PEER_LATELY = 1.0, 4.0
# One open window of a detector: key -> (its parent's labels, an accumulator per metric).
WindowEntry = tuple[tuple[str, ...], list[Accumulator]]
Window = dict[tuple[str, ...], WindowEntry]
LONG_WINDOW = 1800.0  # a window this long or longer: incidents wait two of them for a signal


@dataclass(frozen=True)
class CompiledDetector:
    """Everything a DetectorState needs, as plain picklable values."""

    id: str
    kind: str
    title: str
    severity: str
    interval: float
    group_by: tuple[str, ...]
    parent_by: tuple[str, ...]
    aggregations: tuple[str, ...]
    fields: tuple[str, ...]
    min_count: int
    allow_negative: bool
    params: Any
    budgets: tuple[tuple[str, float], ...]
    threshold: float
    for_: int
    keep_firing_for: int
    warmup: float
    max_keys: int
    runbook: str | None
    labels: tuple[tuple[str, str], ...]
    noise_budget: int | None = None

    @cached_property
    def intake(self) -> tuple[bool, str, bool, bool]:
        """How an event's value is taken: (one metric, the first aggregation, a count of
        events whatever the value, one numeric metric)."""
        single, first = len(self.aggregations) == 1, self.aggregations[0]
        return single, first, self.aggregations == ("count",), single and first in NUMERIC_INPUT

    @property
    def model(self) -> type[AnyKindModel]:
        """The class of the detector's per-key models: it decides what its windows mean."""
        return ESTIMATORS[self.kind]

    @classmethod
    def compile(cls, spec: DetectorSpec) -> CompiledDetector:
        metrics = spec.metric_specs
        params = build_params(
            spec.kind, spec.params, step=spec.interval, aggregation=metrics[0].aggregation
        )
        return cls(
            id=spec.id,
            kind=spec.kind,
            title=spec.display_title,
            severity=spec.severity,
            interval=spec.interval,
            group_by=tuple(spec.group_by),
            parent_by=tuple(spec.parent_by),
            aggregations=tuple(m.aggregation for m in metrics),
            fields=tuple("+".join(m.fields) for m in metrics),
            min_count=spec.min_count,
            allow_negative=spec.allow_negative,
            params=params,
            budgets=tuple(sorted(spec.budgets.items())),
            threshold=spec.threshold,
            for_=spec.for_,
            keep_firing_for=spec.keep_firing_for,
            warmup=spec.warmup,
            max_keys=spec.max_keys,
            runbook=spec.runbook,
            labels=tuple(sorted(spec.labels.items())),
            noise_budget=spec.noise_budget,
        )


def _finite(v: Any) -> bool:
    """A finite float or an int within 64 bits, not a bool (floats, the usual case, take one
    subtraction; a larger int would overflow the float arithmetic of every estimator)."""
    if type(v) is float:
        return v - v == 0.0
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    return -(2**63) <= v < 2**63 if isinstance(v, int) else math.isfinite(v)


def _valid(aggregation: str, v: Any, allow_negative: bool) -> bool:
    """Whether one metric's value can go into a window (None = the event has no value)."""
    if v is None or aggregation == "count":
        return True
    if aggregation == "distinct":
        return isinstance(v, str)
    if not _finite(v):
        return False
    if aggregation in TRUTH_INPUT and v not in (0.0, 1.0):
        return False
    return not (aggregation in NUMERIC_INPUT and v < 0 and not allow_negative)


@dataclass(slots=True)
class _Closing:
    """One window's close: what every key's point needs, and what the keys give."""

    model: type[AnyKindModel]
    start: float
    end: float
    detector_warm: bool
    empty_x: Any  # a key's point without events (None: such a key has no point)
    skips_empty: bool
    recent: RecentPoints | None
    pending: PendingKeys
    stepped: set[tuple[str, ...]] = field(default_factory=set)  # keys whose alert was stepped
    out: list[Signal] = field(default_factory=list)
    parents: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)  # of its keys
    # kinds that judge peers: the sums per cell of every key's `peer_counts`, each key's own,
    # and each key's events per cell (`peer_cells`)
    peer_sums: PeerCounts | None = None
    peer_own: dict[tuple[str, ...], PeerCounts] = field(default_factory=dict)
    peer_mix: dict[tuple[str, ...], dict[str, float]] = field(default_factory=dict)


def _tell_peers(c: _Closing, key: tuple[str, ...], model: AnyKindModel) -> None:
    """Tell a key of a kind that judges peers the sums per cell of the window's other keys,
    and its own events per cell."""
    if c.peer_sums is not None:
        own = c.peer_own.get(key, {})
        others = {}
        for cell, total in c.peer_sums.items():
            mine = own.get(cell, (0.0, 0.0, 0.0))
            others[cell] = (total[0] - mine[0], total[1] - mine[1], total[2] - mine[2])
        model.see_peers(others, c.peer_mix.get(key, {}), c.start)


class HeldBack:
    """One window's `dedup` bookkeeping: the `by` values seen preferred, and the other
    observations per `by` value (key -> (parent, accumulators)), held until the close."""

    def __init__(self) -> None:
        self.preferred: set[str] = set()
        self.windows: dict[str, Window] = {}


class DetectorSet:
    """All enabled detectors: `route` maps an event to observations (no state, no I/O)."""

    def __init__(self, specs: list[DetectorSpec]) -> None:
        enabled = [s for s in specs if s.enabled]
        self._compiled = {s.id: CompiledDetector.compile(s) for s in enabled}
        self.routes = tuple(Route.compile(s) for s in enabled)  # in configuration order
        self._index = NameIndex(self.routes)
        self.detector_ids: list[str] = [s.id for s in enabled]
        self.recent: RecentPoints | None = None  # a backtest report's series (see `recent`)

    @classmethod
    def from_config(cls, config: DetectorsConfig) -> DetectorSet:
        return cls(list(config.detectors))

    def compiled(self, detector_id: str) -> CompiledDetector:
        return self._compiled[detector_id]

    def route(self, event: Event) -> list[Observation]:
        """One Observation per detector that this event feeds (none without a valid time).

        Only the detectors that can accept the event's `name` are tried (see `NameIndex`).
        """
        t = event.get("time")
        if type(t) is not float or t - t != 0.0:  # not a finite float: the full check
            t = event_time(event)
            if t is None:
                return []
        return self._index.plan(event.get("name")).observe(event, t)

    def new_state(self, detector_id: str) -> DetectorState | SliceState:
        compiled = self._compiled[detector_id]
        if compiled.kind in TABLE_KINDS:
            return SliceState(compiled)
        state = DetectorState(compiled)
        if self.recent is not None:
            state.recent = self.recent
        return state


class DetectorState:
    """All keys of one detector: open windows, per-key models, parent baselines, alerts.

    Plain picklable Python. Keys are kept least-recently-seen first and capped at
    `max_keys` (evictions counted; an evicted firing key resolves). Windows are tumbling
    and event-time aligned; `advance(watermark)` closes them, including empty windows of
    every known key, so silence is a point too.
    """

    def __init__(self, detector: CompiledDetector) -> None:
        self.d = detector
        self.keys: dict[tuple[str, ...], AnyKindModel] = {}
        self.pools: dict[tuple[str, ...], AnyKindModel] = {}
        self.root: AnyKindModel | None = None
        self.alerts: dict[tuple[str, ...], hysteresis.Hysteresis] = {}
        self.open: dict[float, Window] = {}
        self.next_start: float | None = None
        self.first_time: float | None = None
        self.rng = random.Random(0)
        self.stats: dict[str, int] = dict.fromkeys(STAT_NAMES, 0)
        self.held: dict[float, HeldBack] = {}  # `dedup`: per open window
        self.preferred_before: frozenset[str] = frozenset()
        self.recent: RecentPoints | None = None  # only a replay writing a report sets it

    # -- input ---------------------------------------------------------------------------

    def update(self, obs: Observation) -> list[Signal]:
        """Add one observation to its key's open window (see `update_many`)."""
        return [signal for _i, signal in self.update_many((obs,))]

    def update_many(
        self,
        observations: Iterable[Observation],
        rejected: Callable[[Observation, Exception], None] | None = None,
    ) -> list[tuple[int, Signal]]:
        """Add an epoch's observations, in order, each to its key's open window; late or bad
        ones are counted. Signals: of keys evicted to make room (`max_keys`), each with the
        index of the observation that made it. `rejected`: told of an observation whose update
        failed, and the rest go on; without it the failure is raised."""
        signals: list[tuple[int, Signal]] = []
        take = self.take
        for i, obs in enumerate(observations):
            try:
                _id, t, group, value, parent, values, mark = obs
                take(t, group, parent, value, values, mark, i, signals)
            except Exception as exc:
                if rejected is None:
                    raise
                rejected(obs, exc)
        return signals

    def take(
        self,
        t: float,
        group: tuple[str, ...],
        parent: tuple[str, ...],
        value: float | str | None,
        values: tuple[float | str | None, ...] | None,
        mark: tuple[str, bool] | None,
        i: int,
        signals: list[tuple[int, Signal]],
    ) -> None:
        """One event's contribution, given as an Observation's fields (no object needed, so a
        caller that routes events itself feeds states directly); eviction signals go to
        `signals` with index `i`."""
        d, stats = self.d, self.stats
        stats["observations"] += 1
        if (type(t) is not float or t - t != 0.0) and not _finite(t):  # floats: no call
            stats["bad_time"] += 1
            return
        single, first, counting, numeric = d.intake
        # one count, or a finite non-negative float for a numeric metric: valid as it is
        plain = counting or (
            numeric and type(value) is float and value - value == 0.0 and value >= 0.0
        )
        taken = (value,) if single else self._values(values)
        if taken is None or not (plain or not single or _valid(first, value, d.allow_negative)):
            stats["bad_value"] += 1
            return
        accumulators = self._accumulators(t, group, parent, mark, i, signals)
        if accumulators is None:
            return
        if counting:
            accumulators[0].count += 1  # `Accumulator.add` of a count, inline
            return
        for agg, acc, v in zip(d.aggregations, accumulators, taken, strict=True):
            if v is not None or agg == "count":
                acc.add(agg, v, self.rng)

    def _accumulators(
        self,
        t: float,
        key: tuple[str, ...],
        parent: tuple[str, ...],
        mark: tuple[str, bool] | None,
        i: int,
        signals: list[tuple[int, Signal]],
    ) -> list[Accumulator] | None:
        """The accumulators of the window and key an event at t (a valid time) goes to; None
        when its window has closed (counted). A key it adds may evict the least recent one."""
        interval = self.d.interval
        start = (t // interval) * interval  # window_start(t, interval), inlined
        if self.next_start is None:
            self.next_start, self.first_time = start, t
        elif start < self.next_start:
            self.stats["late"] += 1
            return None
        model = self.keys.pop(key, None)
        if model is None:
            self.keys[key] = self._new_model(key, parent)
            if len(self.keys) > self.d.max_keys:
                signals += [(i, signal) for signal in self._evict(start)]
        else:
            self.keys[key] = model  # most recently seen goes last
        window = self.open.get(start)
        if window is None:
            window = self.open[start] = {}
        if mark is not None:
            window = self._dedup_target(start, key, mark)
        entry = window.get(key)
        if entry is None:
            entry = window[key] = (parent, [Accumulator() for _ in self.d.aggregations])
        return entry[1]

    def _dedup_target(self, start: float, key: tuple[str, ...], mark: tuple[str, bool]) -> Window:
        """Where a deduplicated observation goes: the window (preferred ones), or held back
        per `by` value until the window closes (see `_release`)."""
        by, preferred = mark
        by_start: dict[float, HeldBack] = self.__dict__.setdefault("held", {})  # older saves
        held = by_start.get(start)
        if held is None:
            held = by_start[start] = HeldBack()
        if preferred:
            held.preferred.add(by)
            return self.open[start]
        return held.windows.setdefault(by, {})

    def _release(self, start: float, window: Window) -> None:
        """At a window's close: what was held back counts unless its `by` value had a
        preferred event in this window or the one before (the same calls, seen twice)."""
        held = self.__dict__.get("held", {}).pop(start, None)
        before = self.__dict__.get("preferred_before", frozenset())
        self.preferred_before = frozenset(held.preferred) if held is not None else frozenset()
        if held is None:
            return
        aggregations = self.d.aggregations
        for by in sorted(held.windows):
            if by in held.preferred or by in before:
                self.stats["duplicates"] = self.stats.get("duplicates", 0) + sum(
                    accs[0].count for _, accs in held.windows[by].values()
                )
                continue
            for key, (parent, accs) in held.windows[by].items():
                entry = window.get(key)
                if entry is None:
                    window[key] = (parent, accs)
                    continue
                for agg, mine, theirs in zip(aggregations, entry[1], accs, strict=True):
                    mine.merge(theirs, agg, self.rng)

    def _values(
        self, values: tuple[float | str | None, ...] | None
    ) -> tuple[float | str | None, ...] | None:
        """A several-metric event's values, or None if any is bad (NaN, inf, negative)."""
        aggregations = self.d.aggregations
        if values is None or len(values) != len(aggregations):
            return None
        for agg, v in zip(aggregations, values, strict=True):
            if not _valid(agg, v, self.d.allow_negative):
                return None
        return values

    def _new_model(self, key: tuple[str, ...], parent: tuple[str, ...]) -> AnyKindModel:
        d = self.d
        if d.model.inherits:
            now = self.next_start or 0.0
            pools = [self.pools.get(parent) if d.parent_by else None, self.root]
            # The warmest parent first; a parent still warming up still knows more than
            # nothing, and its child warms up with it (the child inherits its history).
            for warmup in (d.warmup, 0.0):
                for pool in pools:
                    if pool is not None and pool.is_warm(now, warmup):
                        return pool.spawn()
        labels = dict(zip(d.group_by, key, strict=False))
        return d.model.for_key(d.params, labels, dict(d.budgets))

    def _evict(self, now: float) -> list[Signal]:
        out = []
        while len(self.keys) > self.d.max_keys:
            key = next(iter(self.keys))
            model = self.keys.pop(key)
            self.stats["evictions"] += 1
            state = self.alerts.pop(key, None)
            if state is not None and state[0]:
                ev = {"reason": "key evicted (max_keys)"}
                out.append(self._signal(key, now, 0.0, False, ev))
            del model
        return out

    # -- windows -------------------------------------------------------------------------

    def closes_by(self, watermark: float) -> bool:
        """Whether `advance(watermark)` has a window to close: when not, it would neither
        change the state nor give a signal, so an epoch's close can pass the detector by."""
        return self.next_start is not None and self.next_start + self.d.interval <= watermark

    def advance(self, watermark: float) -> list[Signal]:
        """Close every window ending at or before `watermark`; score, learn, open/resolve."""
        if self.next_start is None or not math.isfinite(watermark):
            return []
        interval = self.d.interval
        out: list[Signal] = []
        pending = int((watermark - self.next_start) // interval)
        if pending > MAX_CATCH_UP_WINDOWS:
            skip = pending - MAX_CATCH_UP_WINDOWS
            self.stats["skipped_windows"] += skip
            for start in [s for s in self.open if s < self.next_start + skip * interval]:
                del self.open[start]
                self.__dict__.get("held", {}).pop(start, None)
            self.next_start += skip * interval
        while self.next_start + interval <= watermark:
            out.extend(self._close(self.next_start))
            self.next_start += interval
        return out

    def _close(self, start: float) -> list[Signal]:
        """Close the window at `start`: every key's point judged, scored and learnt, then the
        alerts of keys without a point stepped too."""
        self.stats["windows"] += 1
        window = self.open.pop(start, {})
        self._release(start, window)
        closing = self._closing(start)
        if closing.model.judges_peers(self.d.params):
            self._sum_peers(closing, window)
        # What a key without events in this window gives: None = no point at all, so only
        # the keys with events are visited (most keys of a busy detector are idle).
        items = self.keys.items() if closing.empty_x is not None else self._keys_in(window)
        if closing.model.hears_peers:
            self._tell_peers(start, window)
        points = 0
        for key, model in items:
            points += self._close_key(closing, key, model, window.get(key))
        out, stepped, end = closing.out, closing.stepped, closing.end
        if closing.model.inherits and self.root is not None:  # news held during the warm-up
            out.extend(self._release_due(stepped, start, end, closing.parents))
        if len(stepped) < len(self.alerts):
            out.extend(self._step_without_point(stepped, start, end))
        self.stats["points"] += points
        self.stats["signals"] += len(out)
        return out

    def _sum_peers(self, c: _Closing, window: Window) -> None:
        """Each key's `peer_counts` of the closing window, and their sums per cell (see
        `WindowModel.judges_peers`): a wave that fails every key of a cell at once (a model in
        a region) is told apart from one key's own trouble by the others' windows there.
        Keys in sorted order: the sums are the same whatever order the events came in."""
        d, sums = self.d, PeerCounts()
        for key in sorted(window):
            model, accs = self.keys.get(key), window[key][1]
            x = None if model is None else c.model.point(accs, d.aggregations, d.min_count)
            if model is None or x is None:
                continue
            cells = model.peer_cells(x, accs[0].count, accs)
            c.peer_mix[key] = {cell: events for cell, (_, events) in cells.items()}
            counts = model.peer_counts(x, accs[0].count, cells)
            for cell, (hits, events, expected) in (counts or {}).items():
                was = sums.get(cell, (0.0, 0.0, 0.0))
                sums[cell] = (was[0] + hits, was[1] + events, was[2] + expected)
            if counts is not None:
                c.peer_own[key] = counts
        c.peer_sums = sums

    def _tell_peers(self, start: float, window: Window) -> None:
        """Tell each key, before its window is judged, the share of the other keys expected
        at work at `start` that are at work (see `WindowModel.hear_peers`): a silence the whole
        organisation shares (a holiday, an outage of the telemetry's path) is not one key's.
        Every key of a detector lives in one shard, so the share is the same whatever the
        workers and processes."""
        states = [(m, m.peer_state(start, k in window)) for k, m in self.keys.items()]
        said = [s for _, s in states if s is not None]
        expected = sum(1 for exp, _idle in said if exp)
        working = sum(1 for _exp, idle in said if idle < PEER_AT_WORK)
        lately = sum(1 for _exp, idle in said if idle < PEER_LATELY)
        for model, s in states:
            exp, idle = s if s is not None else (False, math.inf)
            others = expected - exp
            if others:
                model.hear_peers(min(1.0, (working - (idle < PEER_AT_WORK)) / others))
            elif len(said) - (s is not None) and not lately:
                # nobody at work for hours, itself included: not confirmed. A key that was at
                # work itself lately has shown the organisation at work (its day is no holiday).
                model.hear_peers(0.0)
            else:
                model.hear_peers(None)

    def _closing(self, start: float) -> _Closing:
        """What every key's point of the window at `start` needs to know."""
        d, model_class = self.d, self.d.model
        end = start + d.interval
        return _Closing(
            model=model_class,
            start=start,
            end=end,
            detector_warm=self.first_time is not None and end - self.first_time >= d.warmup,
            empty_x=model_class.empty_point(d.aggregations),
            # A model may neither score nor learn an empty window of an active key (an upward
            # seasonal model): such keys cost a check, not two model calls.
            skips_empty=model_class.skips_empty_windows(d.params),
            recent=self.__dict__.get("recent"),  # only a replay writing a report sets it
            pending=self.__dict__.setdefault("pending", {}),  # saved before it existed
        )

    def _close_key(
        self, c: _Closing, key: tuple[str, ...], model: AnyKindModel, entry: WindowEntry | None
    ) -> int:
        """One key's point of the closing window (1, or 0 if too few events to make one):
        judged against its parents, scored, its alert stepped, then learnt."""
        d = self.d
        if entry is None:
            x, n, idle = c.empty_x, 0, c.skips_empty and model.active
            seen_x = x
        else:
            x = c.model.point(entry[1], d.aggregations, d.min_count)
            if x is None:
                return 0
            n, idle = entry[1][0].count, False
            parent = None
            if d.parent_by:
                parent = self.pools.get(entry[0])
                c.parents[key] = entry[0]
            seen_x = model.judged(x, parent, self.root, c.start, d.warmup, key)
        _tell_peers(c, key, model)
        self._judge(c, key, model, seen_x, n, idle)
        if not idle:
            model.learn_one(x, c.start, n)
            if entry is not None and c.model.inherits:
                x = model.taught(key, x, self.root, c.pending, d.max_keys)
                self._teach_pools(entry[0], x, c.start, n)
        return 1

    def _judge(
        self, c: _Closing, key: tuple[str, ...], model: AnyKindModel, x: Any, n: int, idle: bool
    ) -> None:
        """Score a key's point and step its alert: a signal when the alert opens or resolves."""
        d, recent = self.d, c.recent
        state = self.alerts.get(key)
        # The score matters only to a key that may alert, a key already alerting, or a
        # report: a model still warming up is not asked (scoring is pure, so this is safe).
        warm = c.detector_warm and model.is_warm(c.start, d.warmup)
        wanted = warm or state is not None or recent is not None
        judge = model.score_one if state is None else model.score_in_alert
        score = 0.0 if idle or not wanted else judge(x, c.start, n)
        above = score >= d.threshold and warm
        if recent is not None:
            baseline = baseline_of(model.describe(x, c.start, n))
            recent.record(d.id, key, c.end, x, score, d.threshold, baseline)
        if not above and state is None:
            return
        c.stepped.add(key)
        new, emit = hysteresis.step(state, above, d.for_, d.keep_firing_for)
        if new is None:
            self.alerts.pop(key, None)
        else:
            self.alerts[key] = new
        if emit is None:
            return
        if emit and recent is not None:
            recent.alert(d.id, key, c.end)
        evidence = model.describe(x, c.start, n) if emit else {}
        evidence["window_start"] = iso(c.start)
        evidence["window_end"] = iso(c.end)
        c.out.append(self._signal(key, c.end, score, emit, evidence, c.parents.get(key)))

    def _release_due(
        self,
        stepped: set[tuple[str, ...]],
        start: float,
        end: float,
        parents: dict[tuple[str, ...], tuple[str, ...]],
    ) -> list[Signal]:
        """Alerts the detector's root model held back that are due now (a newcomer's news
        not taken up by others meanwhile): each opens at once, as an anomalous window."""
        d, out = self.d, []
        for key, evidence in self.root.due(start) if self.root is not None else ():
            if key in stepped:
                continue
            stepped.add(key)
            new, emit = hysteresis.step(self.alerts.get(key), True, 1, d.keep_firing_for)
            if new is not None:
                self.alerts[key] = new
            if emit:
                evidence["window_start"] = iso(start)
                evidence["window_end"] = iso(end)
                out.append(self._signal(key, end, 1.0, True, evidence, parents.get(key)))
        return out

    def _step_without_point(
        self, stepped: set[tuple[str, ...]], start: float, end: float
    ) -> list[Signal]:
        """Alerting keys that got no point in this window (no events, or too few) still
        count it: a window without a point is not above the threshold. So `keep_firing_for`
        is in intervals, as configured, and a sparse key does not stay firing for a day and
        then re-open an incident with its next ordinary point."""
        d, out = self.d, []
        for key in [k for k in self.alerts if k not in stepped]:
            new, emit = hysteresis.step(self.alerts[key], False, d.for_, d.keep_firing_for)
            if new is None:
                del self.alerts[key]
            else:
                self.alerts[key] = new
            if emit is not None:
                evidence = {"value": None, "window_start": iso(start), "window_end": iso(end)}
                out.append(self._signal(key, end, 0.0, emit, evidence))
        return out

    def _keys_in(self, window: Window) -> list[tuple[tuple[str, ...], AnyKindModel]]:
        """(key, model) of the known keys with events in `window`, in `self.keys` order.

        Keys are kept least-recently-seen first, so those seen in a window are at the end:
        walking back from the newest finds them without visiting the idle ones.
        """
        if not window:
            return []
        found = []
        wanted = len(window)
        for key in reversed(self.keys):
            if key in window:
                found.append((key, self.keys[key]))
                if len(found) == wanted:
                    break
        found.reverse()
        return found

    def _teach_pools(self, parent: tuple[str, ...], x: Any, start: float, n: int) -> None:
        d = self.d
        if d.parent_by:
            pool = self.pools.pop(parent, None)
            if pool is None:
                pool = d.model.for_key(d.params, {}, {})
            self.pools[parent] = pool
            if len(self.pools) > d.max_keys:
                del self.pools[next(iter(self.pools))]
            pool.learn_one(x, start, n)
        if d.group_by:
            if self.root is None:
                self.root = d.model.for_key(d.params, {}, {})
            self.root.learn_one(x, start, n)

    def _labels(self, parent: tuple[str, ...] | None) -> dict[str, str]:
        """The incident's labels: the configured ones, the kind, and the key's `parent_by`
        values in the window judged (a person's team), so that routes and inhibit rules can
        match them (a person failing inside their team's outage is folded into its page)."""
        labels = dict(self.d.labels)
        labels.setdefault("detector_kind", self.d.kind)
        for name, value in zip(self.d.parent_by, parent or (), strict=False):
            if value:
                labels.setdefault(name, value)
        return labels

    def _signal(
        self,
        key: tuple[str, ...],
        time: float,
        score: float,
        firing: bool,
        evidence: dict[str, Any],
        parent: tuple[str, ...] | None = None,
    ) -> Signal:
        d = self.d
        group = dict(zip(d.group_by, key, strict=True))
        title = d.title
        for name, value in group.items():
            title = title.replace("{" + name + "}", value)
        labels = self._labels(parent)
        evidence = {
            "aggregation": d.aggregations[0] if len(d.aggregations) == 1 else list(d.aggregations),
            **({"field": d.fields[0]} if len(d.fields) == 1 and d.fields[0] else {}),
            **evidence,
        }
        return Signal(
            detector_id=d.id,
            title=title,
            severity=d.severity,
            time=time,
            group=group,
            score=round(min(1.0, max(0.0, score)), 6),
            firing=firing,
            labels=labels,
            evidence=evidence,
            runbook=d.runbook,
            noise_budget=d.noise_budget,
            resolve_after=2 * d.interval if d.interval >= LONG_WINDOW else None,
        )
