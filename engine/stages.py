"""The dataflow's steps as plain objects: decode, order, shard, incidents.

`engine.dataflow` only wires these into Bytewax; everything they do can be driven
(and tested) without it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from engine.decode import DecodeError, decode_history_line
from engine.incidents.book import IncidentBook
from engine.incidents.control import ControlError, parse_control
from engine.incidents.model import ControlReport, Hit, Transition
from engine.merge import EpochMerger, EpochMsg
from engine.ordering import Batch, EventOrder, LatenessTracker
from engine.plan import INCIDENTS, Plan
from notifiers.model import Notification

MAX_REPORTED_BAD_LINES = 100


class Abort:
    """`--strict`: the first bad line ends the run. Shared by the sources and the decoders,
    so the run winds down through end-of-input instead of an exception inside Bytewax."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def set(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason


@dataclass(slots=True)
class LineChunk:
    """Raw lines of one partition, as a source hands them on."""

    partition: int
    lines: list[tuple[int, bytes]]
    done: bool = False
    error: str | None = None  # the file could not be read to its end (e.g. a truncated .gz)
    events: list[dict[str, Any]] | None = None  # live: already decoded by the receiver
    controls: list[Any] | None = None  # live: acks, resolves and silences from the API
    clock: float | None = None  # live: wall time, so the watermark moves without data


@dataclass
class RunStats:
    """Counters that travel with the data to the end of the run, then make the summary."""

    lines: int = 0
    events: int = 0
    bad_lines: int = 0
    late: int = 0
    outside_range: int = 0
    control_events: int = 0
    bad_examples: list[str] = field(default_factory=list)

    def merge(self, other: RunStats) -> None:
        self.lines += other.lines
        self.events += other.events
        self.bad_lines += other.bad_lines
        self.late += other.late
        self.outside_range += other.outside_range
        self.control_events += other.control_events
        room = MAX_REPORTED_BAD_LINES - len(self.bad_examples)
        self.bad_examples.extend(other.bad_examples[: max(room, 0)])


class DecodeState:
    """One partition (one file): lines -> normalised events -> routed items with order times."""

    def __init__(self, partition: int, display: str, is_control: bool, abort: Abort | None) -> None:
        self.partition = partition
        self.display = display
        self.is_control = is_control
        self.abort = abort
        self.tracker: LatenessTracker | None = None
        self.seq = 0
        self.stats = RunStats()

    def _bad(self, line_no: int, reason: str) -> None:
        where = f"{self.display}:{line_no}: {reason}"
        self.stats.bad_lines += 1
        if self.abort is not None:
            self.abort.set(where)
        if len(self.stats.bad_examples) < MAX_REPORTED_BAD_LINES:
            self.stats.bad_examples.append(where)

    def step(self, plan: Plan, chunk: LineChunk) -> Batch:
        if self.tracker is None:
            self.tracker = LatenessTracker(plan.config.stream.allowed_lateness)
        items: list[tuple[float, int, Any]] = []
        tracker, time_range, aliases = self.tracker, plan.time_range, plan.aliases
        for line_no, raw in chunk.lines:
            if self.abort is not None and self.abort.reason is not None:
                break
            self.stats.lines += 1
            if self.is_control:
                self._control(line_no, raw, items)
                continue
            try:
                events, refused = decode_history_line(raw, aliases)
            except DecodeError as exc:
                self._bad(line_no, str(exc))
                continue
            for reason in refused:
                self._bad(line_no, reason)
            for event in events:
                t = event["time"]
                if t not in time_range:
                    self.stats.outside_range += 1
                    continue
                self.stats.events += 1
                placed, late = tracker.place(t)
                if late:
                    self.stats.late += 1
                self.seq += 1
                items.append((placed, self.seq, (event, late)))
        if chunk.events or chunk.controls or chunk.clock is not None:
            self._live(plan, chunk, items)
        if chunk.error is not None:
            self.stats.bad_lines += 1
            self.stats.bad_examples.append(chunk.error)
            if self.abort is not None:
                self.abort.set(chunk.error)
        return Batch(
            self.partition,
            self.tracker.high,
            items,
            done=chunk.done,
        )

    def _live(self, plan: Plan, chunk: LineChunk, items: list[tuple[float, int, Any]]) -> None:
        assert self.tracker is not None
        if chunk.clock is not None:
            self.tracker.advance_to(chunk.clock)
        for event in chunk.events or ():
            self.stats.events += 1
            placed, late = self.tracker.place(event["time"])
            if late:
                self.stats.late += 1
            self.seq += 1
            items.append((placed, self.seq, (event, late)))
        for control in chunk.controls or ():
            placed, _late = self.tracker.place(control.at)
            self.stats.control_events += 1
            self.seq += 1
            items.append((placed, self.seq, control))

    def _control(self, line_no: int, raw: bytes, items: list[tuple[float, int, Any]]) -> None:
        where = f"{self.display}:{line_no}"
        try:
            event = parse_control(orjson.loads(raw), where=where)
        except orjson.JSONDecodeError as exc:
            self._bad(line_no, f"not valid JSON: {exc}")
            return
        except ControlError as exc:
            self._bad(line_no, str(exc))
            return
        assert self.tracker is not None
        placed, _late = self.tracker.place(event.at)
        self.stats.control_events += 1
        self.seq += 1
        items.append((placed, self.seq, event))


class OrderState:
    """The single merge point: partitions in, epochs out to every destination.

    Records are matched against the rules and routed to the keyed shards here, after
    ordering, so that each record is one entry in the merge rather than one per detector.
    """

    def __init__(self, plan: Plan, partitions: int) -> None:
        stream = plan.config.stream
        self.order = EventOrder(
            partitions,
            lateness=stream.allowed_lateness,
            tick=stream.tick,
            heartbeat=stream.heartbeat,
            max_quiet=stream.max_quiet,
        )
        self.stats = RunStats()

    def step(self, plan: Plan, batch: Batch, stats: RunStats | None) -> list[tuple[str, EpochMsg]]:
        if stats is not None:
            self.stats.merge(stats)
        out: list[tuple[str, EpochMsg]] = []
        for epoch in self.order.push(batch):
            routed: dict[str, list[Any]] = {dest: [] for dest in plan.dests}
            for item in epoch.items:
                if isinstance(item, tuple):
                    event, late = item
                    for dest, payload in plan.evaluate(event, late):
                        routed[dest].append(payload)
                else:
                    routed[INCIDENTS].append(item)  # a control event
            for dest, items in routed.items():
                extra = vars(self.stats).copy() if (epoch.final and dest == INCIDENTS) else {}
                msg = EpochMsg("order", epoch.index, epoch.watermark, items, epoch.final, extra)
                out.append((dest, msg))
        return out


def shard_step(plan: Plan, shard: str, state: Any, msg: EpochMsg) -> tuple[Any, EpochMsg]:
    """One keyed shard: its correlations and detectors over one epoch."""
    if state is None:
        state = plan.new_shard_state(shard)
    state.sync(plan, shard)
    hits = state.apply(msg.items, msg.watermark)
    stats = state.stats() if msg.final else {}
    return state, EpochMsg(shard, msg.index, msg.watermark, hits, msg.final, stats)


@dataclass
class Summary:
    """The end of a run, for the command line's report."""

    stats: dict[str, Any]
    shard_stats: dict[str, Any]
    incidents_opened: Counter
    transitions: Counter


class IncidentStage:
    """The incident book behind the epoch merger: one deterministic order for everything."""

    def __init__(self, plan: Plan) -> None:
        self.merger = EpochMerger(["order", *plan.shard_names])
        self.book = IncidentBook(plan.config.incidents)
        self.opened: Counter = Counter()
        self.transitions: Counter = Counter()

    def step(self, msg: EpochMsg) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for epoch in self.merger.add(msg):
            keyed: list[tuple[float, int, int, Any]] = []
            for rank, source in enumerate(self.merger.sources):
                for pos, item in enumerate(epoch.by_source[source]):
                    t = item.time if isinstance(item, Hit) else item.at
                    keyed.append((t, rank, pos, item))
            keyed.sort(key=lambda k: k[:3])
            for _t, _rank, _pos, item in keyed:
                if isinstance(item, Hit):
                    self._emit(self.book.on_hit(item), out)
                else:
                    self._emit(self.book.on_control(item), out)
            self._emit(self.book.advance(epoch.watermark), out)
            if epoch.final:
                merged: dict[str, Any] = {}
                for source, stats in epoch.stats.items():
                    if source != "order":
                        merged.update(stats)
                summary = Summary(
                    epoch.stats.get("order", {}), merged, self.opened, self.transitions
                )
                out.append(("summary", summary))
        return out

    def _emit(self, outputs: list[Any], out: list[tuple[str, Any]]) -> None:
        for o in outputs:
            if isinstance(o, Transition):
                line = o.to_log()
                self.transitions[line["type"]] += 1
                if line["type"] == "incident.opened":
                    inc = line["incident"]
                    self.opened[(inc["rule_id"], inc["severity"])] += 1
                out.append(("log", line))
            elif isinstance(o, Notification):
                out.append(("notify", o))
            elif isinstance(o, ControlReport):
                out.append(("report", o))
