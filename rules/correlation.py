"""Correlation rules as event-time sliding windows, one bounded window per group.

Semantics (Sigma correlation specification, made concrete for a stream):
- The window of an input at time t is (t - timespan, t]; the condition is checked after
  every input of a group, and each input after which it holds is one hit (the incident stage
  turns repeated hits into updates of one incident).
- `event_count` counts matching events (with `spanwatch: {share: {of: [rule], min: m}}`, the
  inputs of the `of` rules are the calls the others are counted among, and the condition
  also needs the counted ones to be at least `m` of those calls: failures that are a small
  part of a busy person's calls are no burst), `value_count` distinct values of `field` (with
  `spanwatch: {count: new-values}`, only those first seen within the timespan; a value idle
  longer than the timespan is forgotten, so one that comes back counts as new again),
  `value_sum`/`value_avg` sum/average `field` (a list of fields is summed per event),
  `value_percentile`/`value_median` take the percentile of `field`.
- `temporal` holds when the referenced rules seen in the window satisfy the condition
  (default: all of them; an extended condition such as `a and not b` is a boolean formula);
  `temporal_ordered` needs them in the listed order.
- Conditions: gt, gte, lt, lte, eq, neq, several at once for a range (`gte: 10, lt: 20`).
- `norm` (rules.norms): a group's threshold also scales with its own habits.
- `reset-on` rules: their input empties the group's window up to its time, so the condition
  counts only what followed the last reset (failures since the last passing assertion). An
  input at or before the group's last reset is left out whenever it arrives: a test run
  reports its passing and failing checks at one instant, and which of them the stream carries
  first must not decide whether the run cleared the session.

Inputs arrive in event-time order, except live, where an input that came behind the watermark
still counts in windows that are open: it is placed at its own time (a correlation rule's window
closes for it once the watermark is more than `timespan` past it; older inputs are counted in
`late` and left out). Its hit, if any, is for the window ending at the group's newest input.

Memory is bounded: events closer than timespan/256 share one bucket (so a window edge is
exact to 1/256 of the timespan), distinct values are exact up to 1000 and then saturate,
percentiles use an evenly thinned sample of at most 512 values, and at most
`max_groups` groups are kept, evicting the least recently seen (counted in `evictions`).
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_right
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, cast

from .model import CorrelationInput, RuleHit
from .norms import Norms, NormSpec

BUCKETS_PER_WINDOW = 256
MAX_PREFERRED = 10_000  # `dedup`: the most recent `by` values remembered as preferred
DISTINCT_CAP = 1000
SAMPLE_CAP = 512
CHAIN_HISTORY = 32  # inputs an ordered window keeps to redo its chains for a late input

_OPS = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
    "neq": operator.ne,
}
_SUMMED = frozenset(("event_count", "value_sum", "value_avg"))
_SAMPLED = frozenset(("value_percentile", "value_median"))

Formula = tuple[Any, ...]  # ("rule", id) | ("not", f) | ("and", f, g, ...) | ("or", f, g, ...)


@dataclass(frozen=True)
class CorrelationSpec:
    """Everything a correlation's state needs, as plain picklable data."""

    rule_id: str
    title: str
    severity: str
    type: str
    rules: tuple[str, ...]
    group_by: tuple[str, ...]
    timespan: float
    timespan_text: str
    conditions: tuple[tuple[str, float], ...]
    value_fields: tuple[str, ...] = ()
    percentile: float = 50.0
    formula: Formula | None = None
    labels: tuple[tuple[str, str], ...] = ()
    runbook: str | None = None
    resolve_after: float | None = None
    noise_budget: int | None = None
    produces: str = "incident"  # or "finding" (see rules.extension.produces_of)
    # (by, ((field, accepted values), ...)): inputs of a `by` value that sent a preferred one
    # are left out (see rules.extension.DedupExtension)
    dedup: tuple[str, tuple[tuple[str, frozenset[str]], ...]] | None = None
    state_key: str = ""  # equal keys mean an old window can be kept on reload
    # `reset-on`: rules whose input empties its group's window up to its time (see `reset`)
    reset_rules: tuple[str, ...] = ()
    # `count: new-values` (value_count): only values first seen within the timespan count
    new_values: bool = False
    # `norm`: each group's threshold also scales with its own habits (see rules.norms)
    norm: NormSpec | None = None
    # `share` (event_count): (rules whose inputs are the calls, least share of them counted)
    share: tuple[tuple[str, ...], float] | None = None

    def holds(self, value: float) -> bool:
        for op, bound in self.conditions:  # noqa: SIM110 - a loop beats all() on the hot path
            if not _OPS[op](value, bound):
                return False
        return True


# --- per-group windows --------------------------------------------------------------------


class SumWindow:
    """Counts and sums in buckets of width timespan/256: bounded, exact for sparse events."""

    __slots__ = ("buckets", "count", "last", "total")

    def __init__(self) -> None:
        self.buckets: deque[list[float]] = deque()  # [start, sum, count]
        self.total = 0.0
        self.count = 0
        self.last = -math.inf

    def add(self, t: float, value: float, width: float) -> None:
        buckets = self.buckets
        if not buckets or t >= buckets[-1][0]:
            if buckets and t - buckets[-1][0] < width:
                bucket = buckets[-1]
                bucket[1] += value
                bucket[2] += 1
            else:
                buckets.append([t, value, 1])
        else:  # behind the newest bucket: into the bucket that holds t, or a new one there
            i = bisect_right(buckets, t, key=_start)
            if i and t - buckets[i - 1][0] < width:
                buckets[i - 1][1] += value
                buckets[i - 1][2] += 1
            else:
                buckets.insert(i, [t, value, 1])
        self.total += value
        self.count += 1
        self.last = max(self.last, t)

    def expire(self, cutoff: float) -> None:
        buckets = self.buckets
        while buckets and buckets[0][0] <= cutoff:
            _, value, count = buckets.popleft()
            self.total -= value
            self.count -= int(count)
        if not buckets:
            self.total, self.count = 0.0, 0


class ShareWindow:
    """An event_count's counted inputs and, beside them, all the calls they are a share of
    (`spanwatch: {share: ...}`): failed calls and calls, in the same buckets."""

    __slots__ = ("calls", "counted", "last")

    def __init__(self) -> None:
        self.counted = SumWindow()
        self.calls = SumWindow()
        self.last = -math.inf

    def add(self, t: float, is_call: bool, width: float) -> None:
        (self.calls if is_call else self.counted).add(t, 1.0, width)
        self.last = max(self.last, t)

    def expire(self, cutoff: float) -> None:
        self.counted.expire(cutoff)
        self.calls.expire(cutoff)

    def share(self) -> float:
        """The counted inputs' share of the calls (1 when no call was seen: nothing to dilute)."""
        calls = self.calls.count
        return min(1.0, self.counted.count / calls) if calls else 1.0


class DistinctWindow:
    """Distinct values with their last time, exact up to DISTINCT_CAP, then saturating."""

    __slots__ = ("last", "seen")

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.last = -math.inf

    def add(self, t: float, value: str) -> None:
        seen = self.seen
        if t >= self.last:
            seen.pop(value, None)
            seen[value] = t
        elif seen.get(value, -math.inf) < t:  # behind: keep `seen` in time order
            ordered = [(v, s) for v, s in seen.items() if v != value]
            ordered.insert(bisect_right(ordered, t, key=_time_of), (value, t))
            self.seen = seen = dict(ordered)
        if len(seen) > DISTINCT_CAP:
            del seen[next(iter(seen))]
        self.last = max(self.last, t)

    def expire(self, cutoff: float) -> None:
        seen = self.seen
        while seen:
            oldest = next(iter(seen))
            if seen[oldest] > cutoff:
                break
            del seen[oldest]


class NewValueWindow(DistinctWindow):
    """Distinct values with their first time as well: those first seen within the timespan are
    the new ones. A value stays while it keeps appearing (its first time is kept) and is
    forgotten once idle longer than the timespan, so one that comes back after that is new."""

    __slots__ = ("first", "timespan")

    def __init__(self, timespan: float) -> None:
        super().__init__()
        self.first: dict[str, float] = {}
        self.timespan = timespan

    def add(self, t: float, value: str) -> None:
        first = self.first
        if self.seen.get(value, math.inf) <= t - self.timespan:  # idle too long: new again
            first.pop(value, None)
        super().add(t, value)
        if value in self.seen:
            first[value] = min(first.get(value, t), t)
        if len(first) > len(self.seen):  # saturated: the oldest value went from `seen`
            self.first = {v: f for v, f in first.items() if v in self.seen}

    def expire(self, cutoff: float) -> None:
        seen, first = self.seen, self.first
        while seen:
            oldest = next(iter(seen))
            if seen[oldest] > cutoff:
                break
            del seen[oldest]
            first.pop(oldest, None)

    def count_since(self, cutoff: float) -> int:
        """How many values were first seen after `cutoff` (no list: this runs on every input)."""
        return sum(1 for f in self.first.values() if f > cutoff)

    def new_since(self, cutoff: float) -> list[str]:
        """The values first seen after `cutoff`, oldest last-seen first."""
        first = self.first
        return [v for v in self.seen if first.get(v, -math.inf) > cutoff]


class SampleWindow:
    """An evenly thinned sample of the window's values (keeps every `stride`-th input)."""

    __slots__ = ("last", "seen", "stride", "values")

    def __init__(self) -> None:
        self.values: deque[tuple[float, float]] = deque()
        self.stride = 1
        self.seen = 0
        self.last = -math.inf

    def add(self, t: float, value: float) -> None:
        behind = t < self.last
        self.last = max(self.last, t)
        self.seen += 1
        if self.seen % self.stride:
            return
        if behind:
            self.values.insert(bisect_right(self.values, t, key=_start), (t, value))
        else:
            self.values.append((t, value))
        if len(self.values) > SAMPLE_CAP:
            self.values = deque(list(self.values)[1::2])
            self.stride *= 2

    def expire(self, cutoff: float) -> None:
        values = self.values
        while values and values[0][0] <= cutoff:
            values.popleft()
        while self.stride > 1 and len(values) < SAMPLE_CAP // 4:
            self.stride //= 2

    def percentile(self, q: float) -> float | None:
        ordered = sorted(v for _, v in self.values)
        if not ordered:
            return None
        rank = (len(ordered) - 1) * min(max(q, 0.0), 100.0) / 100.0
        low = math.floor(rank)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class TemporalWindow:
    """Last time each referenced rule matched, plus ordered-chain starts for temporal_ordered.

    An ordered window also keeps its last `CHAIN_HISTORY` inputs, so that an input that arrives
    behind newer ones can be put in its place and the chains worked out again.
    """

    __slots__ = ("chain", "history", "last", "seen")

    def __init__(self, size: int, ordered: bool = False) -> None:
        self.seen: dict[str, float] = {}
        self.chain: list[float | None] = [None] * size  # chain[k]: latest start of rules[0..k]
        self.last = -math.inf
        self.history: list[tuple[float, str]] | None = [] if ordered else None

    def add(self, t: float, rule_id: str, rules: tuple[str, ...]) -> None:
        self.seen[rule_id] = max(self.seen.get(rule_id, -math.inf), t)
        history = getattr(self, "history", None)  # None also for windows saved without one
        if history is not None:
            if t < self.last:
                history.insert(bisect_right(history, t, key=_start), (t, rule_id))
                del history[:-CHAIN_HISTORY]
                self.chain = [None] * len(rules)
                for past, rule in history:
                    self._extend(past, rule, rules)
                self.last = max(self.last, t)
                return
            history.append((t, rule_id))
            del history[:-CHAIN_HISTORY]
        self.last = max(self.last, t)
        self._extend(t, rule_id, rules)

    def _extend(self, t: float, rule_id: str, rules: tuple[str, ...]) -> None:
        for k in range(len(rules) - 1, -1, -1):  # backwards: one input extends a chain once
            if rules[k] != rule_id:
                continue
            start = t if k == 0 else self.chain[k - 1]
            current = self.chain[k]
            if start is not None and (current is None or start > current):
                self.chain[k] = start

    def expire(self, cutoff: float) -> None:
        self.seen = {r: t for r, t in self.seen.items() if t > cutoff}
        self.chain = [s if s is not None and s > cutoff else None for s in self.chain]
        history = getattr(self, "history", None)
        if history:
            self.history = [(t, r) for t, r in history if t > cutoff]


def _start(item: tuple[float, Any] | list[Any]) -> float:
    start: float = item[0]
    return start


def _time_of(item: tuple[str, float]) -> float:
    return item[1]


Window = SumWindow | ShareWindow | DistinctWindow | NewValueWindow | SampleWindow | TemporalWindow


# --- the state of one correlation rule ----------------------------------------------------------


class CorrelationState:
    """All groups of one correlation rule: plain attributes, so Bytewax can snapshot it."""

    def __init__(self, spec: CorrelationSpec, max_groups: int = 10000) -> None:
        self.spec = spec
        self.max_groups = max_groups
        self.groups: OrderedDict[tuple[str, ...], Window] = OrderedDict()
        self.evictions = 0
        self.late = 0
        self.watermark = -math.inf
        # per group, the time of its last reset (bounded as `groups` is)
        self.reset_at: OrderedDict[tuple[str, ...], float] = OrderedDict()
        self.norms: Norms | None = None  # `norm`: each group's own threshold (rules.norms)

    def __repr__(self) -> str:
        return (
            f"CorrelationState({self.spec.rule_id!r}, groups={len(self.groups)}, "
            f"evictions={self.evictions})"
        )

    def update(self, inp: CorrelationInput) -> list[RuleHit]:
        """Add one input (in event-time order, but see the module's note); return its hits."""
        spec = self.spec
        if inp.time <= self.watermark - spec.timespan:  # every window it could join has closed
            self.late = getattr(self, "late", 0) + 1
            return []
        if spec.reset_rules:
            if inp.rule_id in spec.reset_rules:
                self._reset(inp)
                return []
            if self._before_reset(inp):
                return []
        if spec.dedup is not None and self._duplicate(inp, spec.dedup):
            return []
        window = self._window_of(inp.group)
        t = inp.time
        last = window.last
        end = last if last > t else t  # max(t, last), NaN as max() has it
        if not self._add(window, inp):
            return []
        window.expire(end - spec.timespan)
        if spec.share is not None and inp.rule_id in spec.share[0]:
            return []  # a call (failed or not) only dilutes: its failure, if any, is counted
        measured = self._measure(window)
        if measured is None:
            return []
        satisfied = self._satisfied(measured, window)
        if spec.norm is not None:
            satisfied = self._norm_reached(spec.norm, inp, end, measured, satisfied)
        if not satisfied:
            return []
        return [self._hit(window, measured, end, inp)]

    def _norm_reached(
        self, norm: NormSpec, inp: CorrelationInput, end: float, measured: float, floor: bool
    ) -> bool:
        """Whether the measured value also reaches the group's own threshold (and learn it)."""
        norms: Norms | None = getattr(self, "norms", None)  # None: saved before it was kept
        if norms is None:
            norms = self.norms = Norms(norm, self.spec.timespan, self.max_groups)
        norms.spec, norms.max_groups = norm, self.max_groups  # a reload may change them
        parent = ""
        if norm.by is not None:
            source = inp.evidence_source
            if norm.by in source.names:
                parent = str(source.values[source.names.index(norm.by)] or "")
        return norms.reached(inp.group, parent, end, measured, floor)

    def _reset(self, inp: CorrelationInput) -> None:
        """Forget what the group's window holds up to the input's time: a reset (a passing
        assertion) ends the run the condition counts. Inputs after it, even ones that arrived
        earlier, stay (to the bucket: an input within timespan/256 before it may go too)."""
        window = self.groups.get(inp.group)
        if window is not None:
            window.expire(inp.time)
        resets = getattr(self, "reset_at", None)  # None: a state saved before it was kept
        if resets is None:
            resets = self.reset_at = OrderedDict()
        if resets.get(inp.group, -math.inf) < inp.time:
            resets[inp.group] = inp.time
        resets.move_to_end(inp.group)
        if len(resets) > self.max_groups:
            resets.popitem(last=False)

    def _before_reset(self, inp: CorrelationInput) -> bool:
        """The input is no later than its group's last reset (a verdict of the same run as a
        pass, or one that arrived behind it): the reset already cleared it."""
        resets = getattr(self, "reset_at", None)
        return resets is not None and inp.time <= resets.get(inp.group, -math.inf)

    def _window_of(self, key: tuple[str, ...]) -> Window:
        """The group's window, new if need be (the least recently fed group makes room)."""
        groups = self.groups
        window = groups.get(key)
        if window is None:
            window = self._new_window()
            groups[key] = window
            if len(groups) > self.max_groups:
                groups.popitem(last=False)
                self.evictions += 1
        else:
            groups.move_to_end(key)
        return window

    def _add(self, window: Window, inp: CorrelationInput) -> bool:
        """Add the input's value to the window; False if it has none the window can take."""
        spec = self.spec
        kind = spec.type
        t, value = inp.time, inp.value
        if isinstance(window, ShareWindow):
            share_rules = spec.share[0] if spec.share is not None else ()
            window.add(t, inp.rule_id in share_rules, spec.timespan / BUCKETS_PER_WINDOW)
        elif kind in _SUMMED:
            if kind == "event_count":
                value = 1.0
            elif isinstance(value, int | float) and not isinstance(value, bool):
                value = float(value)
            else:
                return False
            cast(SumWindow, window).add(t, value, spec.timespan / BUCKETS_PER_WINDOW)
        elif kind == "value_count":
            if value is None:
                return False
            cast(DistinctWindow, window).add(t, str(value))
        elif kind in _SAMPLED:
            if not isinstance(value, int | float) or isinstance(value, bool):
                return False
            cast(SampleWindow, window).add(t, float(value))
        else:
            cast(TemporalWindow, window).add(t, inp.rule_id, spec.rules)
        return True

    def _hit(self, window: Window, measured: float, end: float, inp: CorrelationInput) -> RuleHit:
        spec = self.spec
        # Evidence only for a hit: building it on every input would cost more than the window.
        evidence = self._evidence(window, measured)
        norms: Norms | None = getattr(self, "norms", None)
        if norms is not None and spec.norm is not None:  # the group's own threshold too
            floor = max((b for op, b in spec.conditions if op in ("gt", "gte")), default=0.0)
            evidence["threshold"] = max(floor, norms.threshold(inp.group))
        evidence["last_event"] = inp.evidence
        return RuleHit(
            rule_id=spec.rule_id,
            title=spec.title,
            severity=spec.severity,
            time=end,
            group=dict(zip(spec.group_by, inp.group, strict=False)),
            labels=dict(spec.labels),
            raw_evidence=evidence,
            runbook=spec.runbook,
            resolve_after=spec.resolve_after,
            noise_budget=spec.noise_budget,
            produces=spec.produces,
        )

    def _duplicate(
        self, inp: CorrelationInput, dedup: tuple[str, tuple[tuple[str, frozenset[str]], ...]]
    ) -> bool:
        """Whether the input is a call already counted from a preferred input of its session."""
        by, prefer = dedup
        source = inp.evidence_source
        values = dict(zip(source.names, source.values, strict=True))
        key = values.get(by)
        if key is None or key == "":
            return False
        key = str(key)
        seen: OrderedDict[str, float] = self.__dict__.setdefault("preferred", OrderedDict())
        if all(str(values.get(f, "")).lower() in accepted for f, accepted in prefer):
            seen[key] = inp.time
            seen.move_to_end(key)
            while len(seen) > MAX_PREFERRED:
                seen.popitem(last=False)
            return False
        return key in seen

    def advance(self, watermark: float) -> list[RuleHit]:
        """Forget groups with nothing left in their window; emits nothing."""
        self.watermark = max(self.watermark, watermark)
        cutoff = watermark - self.spec.timespan
        groups = self.groups
        while groups:
            key = next(iter(groups))
            if groups[key].last > cutoff:
                break
            del groups[key]
        return []

    # -- internals --

    def _new_window(self) -> Window:
        kind = self.spec.type
        if kind == "event_count" and self.spec.share is not None:
            return ShareWindow()
        if kind in ("event_count", "value_sum", "value_avg"):
            return SumWindow()
        if kind == "value_count":
            return NewValueWindow(self.spec.timespan) if self.spec.new_values else DistinctWindow()
        if kind in ("value_percentile", "value_median"):
            return SampleWindow()
        return TemporalWindow(len(self.spec.rules), ordered=kind == "temporal_ordered")

    def _measure(self, window: Window) -> float | None:
        """The number the condition is checked against (None: nothing to check yet)."""
        kind = self.spec.type
        if isinstance(window, ShareWindow):
            return float(window.counted.count)
        if isinstance(window, SumWindow):
            if kind == "event_count":
                return float(window.count)
            if kind == "value_sum":
                return window.total
            return window.total / window.count if window.count else None
        if isinstance(window, NewValueWindow):
            return float(window.count_since(window.last - self.spec.timespan))
        if isinstance(window, DistinctWindow):
            return float(len(window.seen))
        if isinstance(window, SampleWindow):
            return window.percentile(50.0 if kind == "value_median" else self.spec.percentile)
        if kind == "temporal_ordered":
            return float(sum(1 for start in window.chain if start is not None))
        return float(len(window.seen))

    def _evidence(self, window: Window, measured: float) -> dict[str, Any]:
        """What a hit shows of the window, given what `_measure` returned for it."""
        spec = self.spec
        base: dict[str, Any] = {"type": spec.type, "timespan": spec.timespan_text}
        if isinstance(window, ShareWindow):
            base["events"] = window.counted.count
            base["calls"] = window.calls.count
            base["share"] = round(window.share(), 4)
            return base
        if isinstance(window, SumWindow):
            base["events"] = window.count
            if spec.type == "value_sum":
                base["sum"] = round(window.total, 6)
            elif spec.type == "value_avg":
                base["avg"] = round(measured, 6)
            return base
        if isinstance(window, DistinctWindow):
            return {**base, **self._distinct_evidence(window)}
        if isinstance(window, SampleWindow):
            base["percentile"] = 50.0 if spec.type == "value_median" else spec.percentile
            base["value"] = measured
            base["sample"] = len(window.values)
            return base
        if spec.type == "temporal_ordered":
            base["ordered_rules"] = int(measured)
            return base
        base["rules_seen"] = sorted(window.seen)
        return base

    def _distinct_evidence(self, window: DistinctWindow) -> dict[str, Any]:
        """The distinct values a hit shows: the last ten, or the last ten new ones."""
        values = list(window.seen)
        shown: dict[str, Any] = {"distinct": len(values), "saturated": len(values) >= DISTINCT_CAP}
        if isinstance(window, NewValueWindow):
            values = window.new_since(window.last - self.spec.timespan)
            shown["new_values"] = len(values)
        shown["values"] = values[-10:]
        return shown

    def _satisfied(self, measured: float, window: Window) -> bool:
        spec = self.spec
        if spec.formula is not None and isinstance(window, TemporalWindow):
            return _formula_holds(spec.formula, window.seen)
        if isinstance(window, ShareWindow) and spec.share is not None:
            return spec.holds(measured) and window.share() >= spec.share[1]
        return spec.holds(measured)


def _formula_holds(formula: Formula, seen: dict[str, float]) -> bool:
    kind = formula[0]
    if kind == "rule":
        return formula[1] in seen
    if kind == "not":
        return not _formula_holds(formula[1], seen)
    if kind == "and":
        return all(_formula_holds(f, seen) for f in formula[1:])
    return any(_formula_holds(f, seen) for f in formula[1:])
