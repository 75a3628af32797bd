"""The dataflow's steps as plain objects: decode, match, order, correlate and detect, incidents.

`engine.dataflow` only wires these into Bytewax; everything they do can be driven (and tested)
without it.

Replay and live differ in two places only. Replay's input is already in event-time order
(`engine.history_sort`), and every hit travels with its event through the order, so the incident
stage sees one deterministic sequence. Live, the order stage keeps a watermark per source
(`engine.source_clocks`), and hits of rules without a window skip the order altogether: the
incident stage applies them, and control events from the API, as soon as they arrive, at the
wall clock.
"""

from __future__ import annotations

import math
import pickle
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson

from engine.history_sort import CONTROL
from engine.incidents.book import IncidentBook
from engine.incidents.control import parse_control
from engine.incidents.model import ControlReport, Hit, Transition
from engine.items import (
    Arrivals,
    Decoded,
    Health,
    Matched,
    Prompt,
    RunStats,
    SortedRecords,
    Timed,
    ToOrder,
)
from engine.merge import EpochMerger, EpochMsg
from engine.ordering import Epoch, EventOrder, Frontier
from engine.plan import INCIDENTS, ORDER, Plan
from engine.source_clocks import SourceClocks
from notifiers.model import Notification

PICKLE = pickle.HIGHEST_PROTOCOL
# Live epochs are at most a second of event time: a window closes within a second of the
# watermark passing its end, and an item waits no longer than it must (it is in every snapshot).
LIVE_TICK = 1.0
STATE_VERSION = 2  # snapshots of older shapes are started afresh (see `fresh`)


def fresh(state: Any, cls: type) -> bool:
    """Whether a step must build a new state: none yet, or one recovered from an older shape."""
    return not isinstance(state, cls) or getattr(state, "version", 1) != STATE_VERSION


class DecodeState:
    """One partition: sorted history records (replay) or arrivals (live) -> Decoded."""

    def __init__(self) -> None:
        self.version = STATE_VERSION
        self.seq = 0
        self.last_record = b""
        self.stats = RunStats()

    def step(self, partition: str, chunk: SortedRecords | Arrivals) -> Decoded:
        if isinstance(chunk, Arrivals):
            return self._arrivals(partition, chunk)
        items: list[Timed] = []
        for t, record in chunk.items:
            self.seq += 1
            if record[:1] == CONTROL:
                items.append(Timed(t, self.seq, "", parse_control(orjson.loads(record[1:]))))
                continue
            event = orjson.loads(record[1:])
            if record == self.last_record and event.get("kind") == "span" and event.get("span_id"):
                self.stats.duplicates += 1  # the same span sent twice (see history_sort)
                continue
            self.last_record = record
            self.stats.events += 1
            items.append(Timed(t, self.seq, "", event))
        stats = self.stats if chunk.done else None
        return Decoded(partition, items, [], [], None, chunk.done, stats)

    def _arrivals(self, partition: str, chunk: Arrivals) -> Decoded:
        items: list[Timed] = []
        for source, event, windowed in chunk.events:
            self.seq += 1
            self.stats.events += 1
            payload = event if windowed is None else Matched([], windowed)
            items.append(Timed(event["time"], self.seq, source, payload))
        return Decoded(partition, items, chunk.hits, chunk.controls, chunk.clock, False, None)


def match(plan: Plan, decoded: Decoded, *, live: bool) -> list[tuple[str, ToOrder | Prompt]]:
    """Rules and detector routing for each event of a chunk (stateless: any worker may run it).

    Live, the hits of rules without a window leave at once for the incident stage (with the
    chunk's control events and clock); everything else goes to the order stage. The live inbox
    usually matched its events already, as they came in (`engine.live.inbox`).
    """
    prompt: list[Hit] = list(decoded.hits)
    for timed in decoded.items:
        if isinstance(timed.payload, dict):
            hits, windowed = plan.match(timed.payload)
            if live:
                prompt.extend(hits)
                hits = []
            timed.payload = Matched(hits, windowed)
    out: list[tuple[str, ToOrder | Prompt]] = [
        (
            ORDER,
            ToOrder(decoded.partition, decoded.items, decoded.clock, decoded.done, decoded.stats),
        )
    ]
    if live:
        assert decoded.clock is not None
        out.append((INCIDENTS, Prompt(decoded.clock, prompt, decoded.controls)))
    return out


class OrderState:
    """The single merge point: partitions in, epochs out to every destination.

    Replay: the input is sorted, so the watermark is the newest time read (`Frontier`). Live:
    one clock per source (`SourceClocks`); an event behind the watermark keeps its own time and
    leaves with the next epoch, and only what it would add to windows already closed is dropped
    (and the event counted late, for its source).

    Live items wait for the watermark pickled: the engine snapshots its state every few
    seconds while an item waits tens of seconds, so pickling each once when it arrives keeps
    the snapshots of a busy engine short.
    """

    def __init__(self, plan: Plan, partitions: list[str], live: bool) -> None:
        stream = plan.config.stream
        self.version = STATE_VERSION
        if live:  # every second of wall time closes what it can, with data or without
            tick = min(stream.tick, LIVE_TICK)
            self.order = EventOrder(
                tick=tick, heartbeat=tick, max_quiet=math.inf, start_at_watermark=True
            )
        else:
            self.order = EventOrder(
                tick=stream.tick, heartbeat=stream.heartbeat, max_quiet=stream.max_quiet
            )
        self.frontier = Frontier(partitions)
        self.clocks = (
            SourceClocks(
                allowed_lateness=stream.allowed_lateness,
                idle_timeout=stream.idle_timeout,
            )
            if live
            else None
        )
        self.shard_watermark = -math.inf  # what the keyed shards have been advanced to
        self.seq = 0
        self.stats = RunStats()

    def step(self, plan: Plan, batch: ToOrder) -> list[tuple[str, EpochMsg | Health]]:
        if batch.stats is not None:
            self.stats.merge(batch.stats)
        clocks, order = self.clocks, self.order
        if clocks is None:
            high = -math.inf
            for timed in batch.items:
                order.push(timed.time, timed.seq, timed)
                high = max(high, timed.time)
            self.frontier.advance(batch.partition, high, batch.done)
            watermark = self.frontier.watermark()
            now = math.nan
        else:
            assert batch.clock is not None
            now = batch.clock
            for timed in batch.items:
                clocks.arrive(timed.source, timed.time, now)
                self.seq += 1  # live: arrival order breaks ties
                order.push(timed.time, self.seq, pickle.dumps(timed, PICKLE))
            clocks.forget_idle(now)
            watermark = clocks.watermark(now)
        out: list[tuple[str, EpochMsg | Health]] = []
        for epoch in order.release(watermark):
            out.extend(self._route(plan, epoch, now))
        if clocks is not None:
            health = clocks.health(now, watermark, self.shard_watermark)
            if health is not None:
                out.append((INCIDENTS, health))
        return out

    def _route(self, plan: Plan, epoch: Epoch, now: float) -> list[tuple[str, EpochMsg]]:
        routed: dict[str, list[Any]] = {dest: [] for dest in plan.dests}
        closed_at = self.shard_watermark
        for item in epoch.items:
            # live items wait pickled (see OrderState): our own bytes, from this process
            timed = pickle.loads(item) if isinstance(item, bytes) else item  # noqa: S301
            payload = timed.payload
            if not isinstance(payload, Matched):
                routed[INCIDENTS].append(payload)  # a control event (replay)
                continue
            routed[INCIDENTS].extend(payload.hits)
            behind = timed.time < closed_at
            lost = False
            for dest, item in payload.windowed:
                if behind and plan.window_closed(item, closed_at):
                    lost = True
                    continue
                routed[dest].append(item)
            if lost:
                self.stats.late += 1
                if self.clocks is not None:
                    self.clocks.count_late(timed.source, now)
        self.shard_watermark = epoch.watermark
        out = []
        for dest, items in routed.items():
            extra = vars(self.stats).copy() if (epoch.final and dest == INCIDENTS) else {}
            out.append(
                (dest, EpochMsg(ORDER, epoch.index, epoch.watermark, items, epoch.final, extra))
            )
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
    """The incident book behind the epoch merger: one deterministic order for everything.

    Replay: the book's clock is event time. Live: it is the wall clock, carried by every Prompt;
    hits of windows (which arrive a watermark later) apply at the current wall time, so an
    incident's timers (`resolve_after`, escalation) count from when spanwatch saw the problem.
    """

    clock: float = -math.inf  # live: the latest wall time seen (class default: older snapshots)

    def __init__(self, plan: Plan) -> None:
        self.version = STATE_VERSION
        self.merger = EpochMerger([ORDER, *plan.shard_names])
        self.book = IncidentBook(plan.config.incidents)
        self.opened: Counter = Counter()
        self.transitions: Counter = Counter()
        self.live = False

    def adapt(self, plan: Plan, live: bool) -> None:
        """Set the mode; a book recovered from an older shape keeps its incidents, but its
        epoch merger starts over with the order stage (which that shape's recovery restarts)."""
        self.live = live
        if getattr(self, "version", 1) != STATE_VERSION:
            self.merger = EpochMerger([ORDER, *plan.shard_names])
            self.version = STATE_VERSION

    def step(self, msg: EpochMsg | Prompt | Health) -> list[tuple[str, Any]]:
        if isinstance(msg, Prompt):
            return self._prompt(msg)
        if isinstance(msg, Health):
            return [("health", msg)]
        out: list[tuple[str, Any]] = []
        for epoch in self.merger.add(msg):
            keyed: list[tuple[float, int, int, Any]] = []
            for rank, source in enumerate(self.merger.sources):
                for pos, item in enumerate(epoch.by_source[source]):
                    t = item.time if isinstance(item, Hit) else item.at
                    keyed.append((t, rank, pos, item))
            keyed.sort(key=lambda k: k[:3])
            at = self.clock if self.live else None
            for _t, _rank, _pos, item in keyed:
                if isinstance(item, Hit):
                    self._emit(self.book.on_hit(item, at=at), out)
                else:
                    self._emit(self.book.on_control(item), out)
            self._emit(self.book.advance(epoch.watermark), out)
            if epoch.final:
                merged: dict[str, Any] = {}
                for source, stats in epoch.stats.items():
                    if source != ORDER:
                        merged.update(stats)
                summary = Summary(epoch.stats.get(ORDER, {}), merged, self.opened, self.transitions)
                out.append(("summary", summary))
        return out

    def _prompt(self, msg: Prompt) -> list[tuple[str, Any]]:
        """Live: hits that need no window and control events, applied now; then the timers."""
        self.clock = at = max(self.clock, msg.at)
        out: list[tuple[str, Any]] = []
        for hit in msg.hits:
            self._emit(self.book.on_hit(hit, at=at), out)
        for ticket, control in msg.controls:
            outputs = self.book.on_control(control)
            self._emit(outputs, out)
            if ticket is not None:
                answer = next((o for o in outputs if isinstance(o, ControlReport)), None)
                out.append(("answer", (ticket, answer)))
        self._emit(self.book.advance(at), out)
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
