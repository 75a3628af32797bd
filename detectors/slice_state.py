"""A `slices` detector's state: windows of label combinations, slice baselines, alerts.

The dataflow treats it like any detector's state (`update` one observation, `advance` to a
watermark, `stats`). Per event it adds one value to its label combination's sums in the open
window (one dict entry: the slices are summed only when the window closes). At the close it
judges every slice and the aggregate against their baselines, names the slices that explain
the departures (`detectors.slice_attribution`), steps one alert per named slice (`for`,
`keep_firing_for`), and learns. A slice whose alert resolved less than `recall` ago is
still the outbreak's name: attribution treats it as firing, so a departure it explains (the
same failures seen through the model the team calls, once the team has gone quiet) brings
its own incident back instead of opening one under another label. State is bounded:
`max_combinations` per open window, `max_slices` baselines (the lowest-volume ones
evicted), and the slices resolved within `recall`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from detectors import hysteresis
from detectors.model import SEVERITIES, Observation, Signal
from detectors.model import STAT_NAMES as DETECTOR_STATS
from detectors.slice_attribution import (
    AGGREGATE,
    MAX_SUBJECTS,
    PERSON,
    Finding,
    Slice,
    add_sums,
    attribute,
    slice_sums,
    to_windows,
)
from detectors.slices import MEASURES, SliceBaseline, SliceParams, Window
from detectors.timeparse import iso

if TYPE_CHECKING:
    from detectors.detectorset import CompiledDetector

MAX_CATCH_UP_WINDOWS = 7 * 24 * 12
DEFAULT_MIN_COUNT = 10
LEARNS_SPREAD = 3  # events a window needs to teach a slice its dispersion
# A detector state's counters, and one of its own: label combinations past `max_combinations`.
STAT_NAMES = (*DETECTOR_STATS, "overflow")


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


class SliceState:
    """All slices of one `slices` detector (plain picklable Python, like DetectorState)."""

    def __init__(self, detector: CompiledDetector) -> None:
        self.d = detector
        self.p: SliceParams = detector.params
        self.measure = MEASURES[detector.aggregations[0]]
        self.dims = tuple(detector.group_by)
        self.min_count = detector.min_count or DEFAULT_MIN_COUNT
        self.baselines: dict[Slice, SliceBaseline] = {}
        self.alerts: dict[Slice, hysteresis.Hysteresis] = {}
        self.open: dict[float, dict[tuple[str, ...], list[float]]] = {}
        # `dedup`: per open window, the `by` values seen preferred and the others held back
        self.preferred: dict[float, set[str]] = {}
        self.held: dict[float, dict[str, list[tuple[tuple[str, ...], float]]]] = {}
        self.preferred_before: frozenset[str] = frozenset()
        self.next_start: float | None = None
        self.first_time: float | None = None
        self.stats: dict[str, int] = dict.fromkeys(STAT_NAMES, 0)
        self.recent: Any = None
        # the last `span` - 1 closed intervals: (start, label combinations, slice sums)
        self.past: list[tuple[float, dict[Any, Any], dict[Any, Any]]] = []

    # -- input ---------------------------------------------------------------------------

    def update(self, obs: Observation) -> list[Signal]:
        """Add one event's value to its label combination in its window (late or bad ones
        are counted and left out)."""
        stats = self.stats
        stats["observations"] += 1
        t = obs.time
        if not _number(t):
            stats["bad_time"] += 1
            return []
        value = self._value(obs.value)
        if value is None:
            stats["bad_value"] += 1
            return []
        start = (t // self.d.interval) * self.d.interval
        if self.next_start is None:
            self.next_start, self.first_time = start, t
        elif start < self.next_start:
            stats["late"] += 1
            return []
        mark = obs.dedup
        if mark is not None:
            by, preferred = mark
            if preferred:
                self.preferred.setdefault(start, set()).add(by)
            else:
                self.held.setdefault(start, {}).setdefault(by, []).append((obs.group, value))
                return []
        self._add(start, obs.group, value)
        return []

    def _value(self, v: Any) -> float | None:
        if self.measure == "share":
            return 1.0
        if not _number(v):
            return None
        if self.measure == "ratio":
            return float(v) if v in (0.0, 1.0) else None
        return float(v) if v >= 0 else None

    def _add(self, start: float, group: tuple[str, ...], value: float) -> None:
        window = self.open.get(start)
        if window is None:
            window = self.open[start] = {}
        acc = window.get(group)
        if acc is None:
            if len(window) >= self.p.max_combinations:
                self.stats["overflow"] += 1
                group = ("",) * len(self.dims)  # the aggregate only
                acc = window.get(group)
            if acc is None:
                acc = window[group] = [0.0, 0.0, 0.0, 0.0]
        acc[0] += 1.0
        if self.measure == "mean":
            x = math.log1p(value)
            acc[1] += x
            acc[2] += x * x
            acc[3] += value
        else:
            acc[1] += value

    def _release(self, start: float) -> None:
        """Held-back events count unless their `by` value had a preferred event in this
        window or the one before (the same calls, seen twice)."""
        preferred = self.preferred.pop(start, set())
        held = self.held.pop(start, {})
        before, self.preferred_before = self.preferred_before, frozenset(preferred)
        for by in sorted(held):
            if by in preferred or by in before:
                self.stats["duplicates"] += len(held[by])
                continue
            for group, value in held[by]:
                self._add(start, group, value)

    # -- windows -------------------------------------------------------------------------

    def advance(self, watermark: float) -> list[Signal]:
        """Close every window ending at or before `watermark`: attribute, alert, learn."""
        if self.next_start is None or not math.isfinite(watermark):
            return []
        interval = self.d.interval
        out: list[Signal] = []
        pending = int((watermark - self.next_start) // interval)
        if pending > MAX_CATCH_UP_WINDOWS:
            skip = pending - MAX_CATCH_UP_WINDOWS
            self.stats["skipped_windows"] += skip
            cut = self.next_start + skip * interval
            for start in [s for s in self.open if s < cut]:
                del self.open[start]
            for book in (self.preferred, self.held):
                for start in [s for s in book if s < cut]:
                    del book[start]
            self.next_start = cut
        while self.next_start + interval <= watermark:
            out.extend(self._close(self.next_start))
            self.next_start += interval
        return out

    def _close(self, start: float) -> list[Signal]:
        """Close the window at `start`: judge the slices over the span that ends with it, name
        those that explain the departures, step their alerts, and learn the window."""
        self.stats["windows"] += 1
        self._release(start)
        newest = self.open.pop(start, {})
        sums = slice_sums(newest, self.dims)
        past = self._roll_span(start, newest, sums)
        learned = to_windows(sums, self.measure)
        windows = self._span_windows(past, sums) if past else learned
        end = start + self.d.interval
        found = self._attribute(windows, past, newest, start, end) if newest else []
        out = self._step(found, windows.get(AGGREGATE), start, end)
        self._learn(learned)
        self.stats["points"] += len(learned)
        self.stats["signals"] += len(out)
        return out

    def _roll_span(
        self, start: float, newest: dict[tuple[str, ...], list[float]], sums: dict[Slice, Any]
    ) -> list[tuple[float, dict[Any, Any], dict[Any, Any]]]:
        """The earlier intervals of the span ending with the window at `start`; the window
        joins them (the last `span` - 1 are kept)."""
        span, interval = self.p.span, self.d.interval
        past = [(s, c, m) for s, c, m in self.past if s > start - span * interval]
        self.past = [*past, (start, newest, sums)][1 - span :] if span > 1 else []
        return past

    def _span_windows(
        self, past: list[tuple[float, dict[Any, Any], dict[Any, Any]]], sums: dict[Slice, Any]
    ) -> dict[Slice, Window]:
        """Every slice's window over the span: the earlier intervals' sums and the newest's."""
        merged: dict[Slice, list[float]] = {}
        for m in [*(m for _, _, m in past), sums]:
            add_sums(merged, m)
        return to_windows(merged, self.measure)

    def _attribute(
        self,
        windows: dict[Slice, Window],
        past: list[tuple[float, dict[Any, Any], dict[Any, Any]]],
        newest: dict[tuple[str, ...], list[float]],
        start: float,
        end: float,
    ) -> list[Finding]:
        """The findings that explain the span's departures (`detectors.slice_attribution`);
        the slices alerting or resolved within `recall` count as firing."""
        d, p = self.d, self.p
        warm = self.first_time is not None and end - self.first_time >= d.warmup

        def ready(b: SliceBaseline) -> bool:
            return warm and b.points >= p.min_points

        def table() -> dict[tuple[str, ...], list[float]]:
            return merge_combos([c for _, c, _ in past] + [newest])

        return attribute(
            windows,
            table,
            self.dims,
            self.measure,
            self.baselines,
            p,
            self.min_count,
            d.threshold,
            ready,
            {*self.alerts, *self._recalled(start)},
            self.__dict__.setdefault("subjects", {}),  # older saves lack it
        )

    def _step(
        self, found: list[Finding], total: Window | None, start: float, end: float
    ) -> list[Signal]:
        """One hysteresis step per named slice (above) and per other alerting slice (below)."""
        d, out = self.d, []
        named = {f.key: f for f in found}
        subjects: dict[Slice, list[Slice]] = self.__dict__.setdefault("subjects", {})
        for f in found:
            mine = subjects.setdefault(f.key, [])
            mine.extend(s for s in f.subjects if s not in mine)
            del mine[:-MAX_SUBJECTS]
        for key in [*named, *(k for k in self.alerts if k not in named)]:
            new, emit = hysteresis.step(
                self.alerts.get(key), key in named, d.for_, d.keep_firing_for
            )
            if new is None:
                self.alerts.pop(key, None)
            else:
                self.alerts[key] = new
            if emit is False:
                self.__dict__.setdefault("resolved", {})[key] = end
            if emit is None:
                continue
            finding = named.get(key)
            evidence: dict[str, Any] = (
                self._evidence(finding, total) if finding else {"value": None}
            )
            evidence["window_start"], evidence["window_end"] = iso(start), iso(end)
            score = finding.score if finding else 0.0
            out.append(self._signal(key, end, score, emit, evidence, finding))
        return out

    def _recalled(self, start: float) -> list[Slice]:
        """The slices resolved less than `recall` before `start` (older ones are forgotten)."""
        resolved: dict[Slice, float] = self.__dict__.setdefault("resolved", {})  # older saves
        subjects = self.__dict__.setdefault("subjects", {})
        for k in [k for k, t in resolved.items() if t <= start - self.p.recall]:
            del resolved[k]
        for k in [k for k in subjects if k not in resolved and k not in self.alerts]:
            del subjects[k]
        return [k for k in resolved if k not in self.alerts]

    def _learn(self, windows: dict[Slice, Window]) -> None:
        """Every slice seen learns its window; new slices start from the aggregate's level."""
        p, baselines = self.p, self.baselines
        parent = baselines.get(AGGREGATE)
        for key in sorted(windows, key=lambda k: k != AGGREGATE):  # the aggregate first
            w = windows[key]
            b = baselines.get(key)
            if b is None:
                b = baselines[key] = (
                    parent.spawn()
                    if parent is not None and key != AGGREGATE
                    else SliceBaseline(self.measure)
                )
                if key == AGGREGATE:
                    parent = b
            events = w.total if self.measure == "share" else w.n
            b.learn_one(w, p, scored=events >= LEARNS_SPREAD)
        if len(baselines) > p.max_slices:
            self._evict()

    def _evict(self) -> None:
        """Down to nine tenths of `max_slices`, the lowest-volume slices first (a firing one
        is kept; the aggregate always is)."""
        keep = int(self.p.max_slices * 0.9)
        ranked = sorted(
            (b.volume, k)
            for k, b in self.baselines.items()
            if k != AGGREGATE and k not in self.alerts
        )
        for _, key in ranked[: max(0, len(self.baselines) - keep)]:
            del self.baselines[key]
            self.stats["evictions"] += 1

    # -- what an incident says -----------------------------------------------------------

    def _evidence(self, f: Finding, total: Window | None) -> dict[str, Any]:
        b = self.baselines[f.key]
        ev = b.describe(f.window)
        if self.measure == "share":
            ev["value"] = int(f.window.total)
            ev["baseline"] = round(b.expected * f.window.n, 3)
            ev["share"] = round(f.window.value, 6)
            ev["baseline_share"] = round(b.expected, 6)
        ev["measure"] = self.measure
        ev["z"] = round(f.z, 3)
        ev["slice"] = _name(f.key)
        if f.explains is not None:
            ev["explains"] = round(min(f.explains, 1.0), 3)
            agg = self.baselines.get(AGGREGATE)
            if agg is not None and total is not None:
                ev["aggregate"] = {"value": round(agg.shown(total), 6), "baseline": agg.typical}
        if f.explained:
            ev["explained"] = [_name(k) for k in f.explained[:10]]
        if f.contributors:
            ev["contributors"] = [{"slice": _name(k), "share": s} for k, s in f.contributors]
        return ev

    def _signal(
        self,
        key: Slice,
        time: float,
        score: float,
        firing: bool,
        evidence: dict[str, Any],
        finding: Finding | None,
    ) -> Signal:
        d = self.d
        group = {} if key == AGGREGATE else {key[0]: key[1]}
        labels = dict(d.labels)
        labels.setdefault("detector_kind", d.kind)
        labels.setdefault("slice", _name(key))
        return Signal(
            detector_id=d.id,
            title=self._title(key, finding),
            severity=self._severity(key, finding),
            time=time,
            group=group,
            score=round(min(1.0, max(0.0, score)), 6),
            firing=firing,
            labels=labels,
            evidence={"aggregation": d.aggregations[0], **evidence},
            runbook=d.runbook,
            noise_budget=d.noise_budget,
        )

    def _severity(self, key: Slice, f: Finding | None) -> str:
        """The detector's severity, or at most `person_severity` for a slice that is one
        person's: the person's own, or one without whose events it departs no more."""
        cap = self.p.person_severity
        if not cap or SEVERITIES.index(cap) >= SEVERITIES.index(self.d.severity):
            return self.d.severity
        subjects = f.subjects if f is not None else ()
        if key[0] == PERSON or any(s[0] == PERSON for s in subjects):
            return cap
        return self.d.severity

    def _title(self, key: Slice, f: Finding | None) -> str:
        """`error rate 41% for team=platform, baseline 0.4%` (and how much of the overall
        departure it explains, or for the aggregate, its largest contributors)."""
        where = "overall" if key == AGGREGATE else f"for {_name(key)}"
        if f is None:
            return f"{self.d.title} {where}"
        b = self.baselines[key]
        w = f.window
        if self.measure == "share":
            value, base = f"{w.total:.0f}", f"{b.expected * w.n:.3g}"
            text = f"{self.d.title} {value} in {_span(self.d.interval)} {where}, baseline {base}"
        else:
            show = self._format
            text = f"{self.d.title} {show(b.shown(w))} {where}, baseline {show(b.typical)}"
        if f.explains is not None and f.explains >= 0.05:
            text += f" ({min(f.explains, 1.0):.0%} of the overall departure)"
        if f.contributors:
            parts = ", ".join(f"{_name(k)} {s:.0%}" for k, s in f.contributors)
            text += f"; largest shares: {parts}"
        return text

    def _format(self, x: float) -> str:
        if self.measure == "ratio":
            pct = 100.0 * x
            return f"{pct:.0f}%" if pct >= 10 or pct == 0 else f"{pct:.2g}%"
        unit = " ms" if self.d.fields and self.d.fields[0].endswith("_ms") else ""
        return (f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}") + unit


def merge_combos(
    tables: list[dict[tuple[str, ...], list[float]]],
) -> dict[tuple[str, ...], list[float]]:
    """The label combinations of several intervals, summed."""
    merged: dict[tuple[str, ...], list[float]] = {}
    for combos in tables:
        for combo, acc in combos.items():
            m = merged.get(combo)
            if m is None:
                merged[combo] = list(acc)
            else:
                for j in range(4):
                    m[j] += acc[j]
    return merged


def _name(key: Slice) -> str:
    return "all" if key == AGGREGATE else f"{key[0]}={key[1]}"


def _span(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:.0f}h"
    if seconds % 60 == 0:
        return f"{seconds / 60:.0f}m"
    return f"{seconds:g}s"
