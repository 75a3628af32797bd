"""The dataflow's steps as plain objects: decode, match, order, correlate and detect, incidents.

`engine.flow.dataflow` only wires these into Bytewax; everything they do can be driven (and tested)
without it.

Replay and live differ in two places only. Replay's input is already in event-time order
(`engine.history_sort`), and every hit travels with its event through the order, so the incident
stage sees one deterministic sequence. Live, the order stage keeps a watermark per source
(`engine.flow.source_clocks`), and hits of rules without a window do not wait for it: the order stage
hands them, with the control events from the API, to the incident stage in the same tick, which
applies them at once, at the tick's wall clock. Live or not, the steps read no clock of their
own, so the same input gives the same output (what recovery after a crash relies on).

Every step that works item by item takes its items through the run's quarantine
(`engine.flow.quarantine`): one item that fails is put aside, and the step goes on.
"""

from __future__ import annotations

import copy
import heapq
import math
import pickle
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import orjson

from engine.flow.epoch_merge import CompleteEpoch, EpochMerger, EpochMsg
from engine.flow.event_order import Epoch, EventOrder, Frontier
from engine.flow.items import (
    Addressed,
    Answer,
    Arrivals,
    Decoded,
    LogLine,
    Matched,
    Result,
    RunStats,
    SortedRecords,
    Summary,
    Tick,
    Timed,
    ToOrder,
)
from engine.flow.quarantine import Quarantine
from engine.flow.run_setup import INCIDENTS, ORDER, RunSetup, ShardState
from engine.flow.source_clocks import SourceClocks
from engine.flow.state_pickle import load_state
from engine.history_sort import CONTROL
from engine.incidents.book import IncidentBook
from engine.incidents.control import parse_control
from engine.incidents.model import ControlReport, FindingRecord, Hit, Transition
from notifiers.model import Notification

PICKLE = pickle.HIGHEST_PROTOCOL
# Live epochs are at most a second of event time: a window closes within a second of the
# watermark passing its end, and an item waits no longer than it must.
LIVE_TICK = 1.0
STATE_VERSION = 3  # snapshots of older shapes are started afresh (see `fresh`)

Ref = tuple[int, int]
Recall = Callable[[list[Ref]], dict[Ref, tuple[str, dict[str, Any]]]]


def fresh(state: object, cls: type) -> bool:
    """Whether a step must build a new state: none yet, or one recovered from an older shape."""
    return not isinstance(state, cls) or getattr(state, "version", 1) != STATE_VERSION


class DecodeState:
    """Live, one partition: the receivers' arrivals -> Decoded, numbered in arrival order."""

    def __init__(self) -> None:
        self.version = STATE_VERSION
        self.seq = 0
        self.stats = RunStats()

    def step(self, partition: str, chunk: Arrivals) -> Decoded:
        items: list[Timed] = []
        for source, t, windowed, ref in chunk.events:
            self.seq += 1
            self.stats.events += 1
            items.append(Timed(t, self.seq, source, Matched([], windowed), ref))
        return Decoded(partition, items, chunk.hits, chunk.controls, chunk.clock, False, None)


def decode_sorted(partition: str, chunk: SortedRecords) -> Decoded:
    """Replay: records of the sorted history -> events and control events at their place in the
    order (the partition's reader has dropped exact duplicates and counted the events, see
    `engine.flow.replay_source`), so any worker may decode any chunk."""
    items: list[Timed] = []
    loads = orjson.loads
    texts: dict[str, str] = {}
    for t, seq, record in chunk.items:
        if record[:1] == CONTROL:
            items.append(Timed(t, seq, "", parse_control(loads(record[1:]))))
        else:
            items.append(Timed(t, seq, "", _shared_texts(loads(record[1:]), texts)))
    return Decoded(partition, items, [], [], None, chunk.done, chunk.stats, chunk.number)


def _shared_texts(event: dict[str, Any], texts: dict[str, str]) -> dict[str, Any]:
    """The event with each text it shares with the chunk's earlier events as the same object.

    A shard's inputs cross to another process pickled, a chunk at a time, and pickle writes an
    object it has already written as a short reference: the user, team, repository and model
    that recur through a chunk's inputs are then written once per chunk, not once per input.
    """
    for key, value in event.items():
        if type(value) is str:
            event[key] = texts.setdefault(value, value)
    return event


def match(setup: RunSetup, decoded: Decoded, *, live: bool) -> ToOrder:
    """Rules and detector routing for each event of a chunk (stateless: any worker may run it).

    Live, the receivers matched the events already, as they came in (`engine.live.intake`), and
    the hits of rules without a window travel in the chunk's own lane (`ToOrder.hits`); in
    replay they travel with their events through the order.
    """
    prompt: list[Hit] = list(decoded.hits)
    items: list[Timed] = []
    match_one, quarantine = setup.match, setup.quarantine
    for timed in decoded.items:
        event = timed.payload
        if type(event) is dict:
            try:
                hits, windowed = match_one(event)
            except Exception as exc:  # one event that breaks a rule or a route is put aside
                quarantine.put("match", event, exc)
                continue
            if live and hits:
                prompt.extend(hits)
                hits = []
            timed.payload = Matched(hits, windowed)
        items.append(timed)
    return ToOrder(
        decoded.partition,
        items,
        decoded.clock,
        decoded.done,
        decoded.stats,
        prompt if live else [],
        decoded.controls,
    )


@dataclass(slots=True)
class Waiting:
    """Live: an event waiting for the watermark. Its place in the intake log, and, unless the
    memory budget is spent, what the windows need of it, pickled (`blob`); snapshots keep only
    the place, and the item is recalled from the log when it is released without its blob."""

    ref: Ref | None
    source: str
    time: float
    blob: bytes | None
    # its sender's own watermark when it arrived: windows closed by it never take the event
    limit: float = -math.inf


class OrderState:
    """The single merge point: partitions in, epochs out to every destination.

    Replay: the input is sorted, so the watermark is the newest time read (`Frontier`). Live:
    one clock per source (`SourceClocks`); an event behind the watermark keeps its own time and
    leaves with the next epoch, and only what it would add to windows already closed is dropped
    (and the event counted late, for its source).

    Live items wait for the watermark as `Waiting`: pickled when they arrive (cheap to hold), up
    to `live.waiting_memory_bytes` of them; past that, and in every snapshot, only their place in the
    intake log is kept, and they are recalled from it when the watermark releases them. So a
    snapshot of a busy engine holds a few numbers per waiting event, not the event.
    """

    def __init__(self, setup: RunSetup, partitions: list[str], live: bool) -> None:
        stream = setup.config.stream
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
        self.sender_keyed = True  # live: waiting events are placed by (sender, number)
        self.stats = RunStats()
        self.held_bytes = 0  # pickled bytes of the waiting items kept in memory
        self.memory = setup.config.live.waiting_memory_bytes

    def __getstate__(self) -> dict[str, Any]:
        """Waiting items with a place in the intake log are snapshotted by that place alone."""
        state = self.__dict__.copy()
        heap = self.order.heap
        if heap and any(isinstance(w, Waiting) and w.ref is not None for _, _, w in heap):
            order = copy.copy(self.order)
            order.heap = [
                (t, seq, Waiting(w.ref, w.source, w.time, None, _limit(w)))
                if isinstance(w, Waiting) and w.ref is not None
                else (t, seq, w)
                for t, seq, w in heap
            ]
            state["order"] = order
            state["held_bytes"] = sum(
                len(w.blob) for _, _, w in order.heap if isinstance(w, Waiting) and w.blob
            )
        return state

    def low_water(self) -> int | None:
        """The oldest intake-log position a waiting item needs (for the log's retention)."""
        refs = [w.ref[0] for _, _, w in self.order.heap if isinstance(w, Waiting) and w.ref]
        return min(refs) if refs else None

    def step(
        self, setup: RunSetup, batch: ToOrder, recall: Recall | None = None
    ) -> list[Addressed]:
        """Take one partition's chunk in; every epoch it completes, split by destination."""
        if batch.stats is not None:
            self.stats.merge(batch.stats)
        clocks, order = self.clocks, self.order
        if clocks is None:
            self._push_sorted(batch)
            watermark = self.frontier.watermark()
            now = math.nan
        else:
            now, watermark = self._take_live(setup, batch, clocks)
        out: list[Addressed] = []
        released: list[EpochMsg] = []
        for epoch in order.release(watermark):
            for addressed in self._split(setup, epoch, now, recall):
                if addressed.dest == INCIDENTS and clocks is not None:
                    released.append(cast(EpochMsg, addressed.msg))
                else:
                    out.append(addressed)
        if clocks is not None:
            health = clocks.health(now, watermark, self.shard_watermark)
            tick = Tick(now, batch.hits, batch.controls, released, health)
            out.append(Addressed(INCIDENTS, tick))
        return out

    def _take_live(
        self, setup: RunSetup, batch: ToOrder, clocks: SourceClocks
    ) -> tuple[float, float]:
        """Live: a partition's chunk into the order; the stage's clock and the watermark."""
        assert batch.clock is not None
        # Several partitions (a cluster's processes) tick on clocks of their own: the
        # stage's clock never goes back, so neither do the incidents' times.
        now = self.clock = max(batch.clock, getattr(self, "clock", -math.inf))
        self._sender_keyed()
        for source in setup.expected_sources:
            clocks.expect(source, now)
        for _ in setup.quarantine.each("order", batch.items, lambda t: self._wait(t, now)):
            pass
        clocks.forget_idle(now)
        return now, clocks.watermark(now)

    def _sender_keyed(self) -> None:
        """Waiting events snapshotted by an older shape, under an arrival number, sort before
        those placed by (sender, number)."""
        if getattr(self, "sender_keyed", False):
            return
        heap = self.order.heap
        heap[:] = [(t, ("", seq) if isinstance(seq, int) else seq, w) for t, seq, w in heap]
        heapq.heapify(heap)
        self.sender_keyed = True

    def _push_sorted(self, batch: ToOrder) -> None:
        """Replay: a partition's chunk, and the times of its events that went straight to their
        shards (each under a place of its own below zero, so that they never tie)."""
        order = self.order
        high = -math.inf
        for timed in batch.items:
            order.push(timed.time, timed.seq, timed)
            high = max(high, timed.time)
        for t in batch.times:
            self.seq -= 1
            order.push(t, self.seq, None)
        if batch.times:
            high = max(high, batch.times[-1])
        self.frontier.advance(batch.partition, high, batch.done)

    def _wait(self, timed: Timed, now: float) -> None:
        """Live: one event into the order, kept pickled while the memory budget allows.

        Its place depends on its sender's stream alone, never on how the senders' events
        interleaved on the way here (which differs with the number of processes, and after a
        recovery): ties break by (sender, its number among the sender's), and an event behind
        its sender's own watermark waits at that watermark, where it counts only in the
        windows that watermark has not closed (see `_split`).
        """
        assert self.clocks is not None
        own, number = self.clocks.arrive(timed.source, timed.time, now)
        blob: bytes | None = None
        if timed.ref is None or self.held_bytes < self.memory:
            blob = pickle.dumps(timed.payload, PICKLE)
            self.held_bytes += len(blob)
        waiting = Waiting(timed.ref, timed.source, timed.time, blob, own)
        self.order.push(max(timed.time, own), (timed.source, number), waiting)

    def _released(
        self, setup: RunSetup, epoch: Epoch, recall: Recall | None
    ) -> list[tuple[float, str, Any, float]]:
        """(time, source, payload, its sender's watermark on arrival) of an epoch's items:
        unpickled, or recalled from the log."""
        missing = [
            w.ref
            for w in epoch.items
            if isinstance(w, Waiting) and w.ref is not None and w.blob is None
        ]
        found = recall(missing) if missing and recall is not None else {}
        out: list[tuple[float, str, Any, float]] = []
        for item in epoch.items:
            if item is None:  # replay: an event whose inputs went straight to their shards
                continue
            if not isinstance(item, Waiting):
                out.append((item.time, item.source, item.payload, -math.inf))
                continue
            if item.blob is not None:
                self.held_bytes -= len(item.blob)
                # our own bytes, pickled by this stage (or restored with its snapshot)
                out.append((item.time, item.source, load_state(item.blob), _limit(item)))
                continue
            ok, windowed = setup.quarantine.run(
                "order",
                {"ref": item.ref},
                partial(_recalled_windows, setup, found, cast(Ref, item.ref)),
            )
            if ok and windowed is not None:
                out.append((item.time, item.source, Matched([], windowed), _limit(item)))
        return out

    def _split(
        self, setup: RunSetup, epoch: Epoch, now: float, recall: Recall | None
    ) -> list[Addressed]:
        """One epoch's share for each destination: hits and control events to the incidents,
        each windowed input to its shard (unless every window it could join has closed)."""
        routed: dict[str, list[Any]] = {dest: [] for dest in setup.dests}
        closed_at = self.shard_watermark
        for t, source, payload, own in self._released(setup, epoch, recall):
            if not isinstance(payload, Matched):
                routed[INCIDENTS].append(payload)  # a control event (replay)
                continue
            routed[INCIDENTS].extend(payload.hits)
            limit = max(closed_at, own)
            behind = t < limit
            lost = False
            for dest, item in payload.windowed:
                if behind and setup.window_closed(item, limit):
                    lost = True
                    continue
                routed[dest].append(item)
            if lost:
                self.stats.late += 1
                if self.clocks is not None:
                    self.clocks.count_late(source, now)
        self.shard_watermark = epoch.watermark
        out = []
        for dest, items in routed.items():
            extra = vars(self.stats).copy() if (epoch.final and dest == INCIDENTS) else {}
            msg = EpochMsg(ORDER, epoch.index, epoch.watermark, items, epoch.final, extra)
            out.append(Addressed(dest, msg))
        return out


def _limit(waiting: Waiting) -> float:
    """A waiting event's sender watermark on arrival (none in snapshots of an older shape)."""
    return getattr(waiting, "limit", -math.inf)


def _recalled_windows(
    setup: RunSetup, found: dict[Ref, tuple[str, dict[str, Any]]], ref: Ref
) -> list[tuple[str, Any]]:
    """What the windows need of an event recalled from the intake log."""
    return setup.match(found[ref][1])[1]


def shard_step(
    setup: RunSetup, shard: str, state: ShardState | None, msg: EpochMsg
) -> tuple[ShardState, EpochMsg]:
    """One keyed shard: its correlations and detectors over one epoch."""
    if state is None:
        state = setup.new_shard_state(shard)
    state.sync(setup, shard)
    hits = state.apply(msg.items, msg.watermark, setup.quarantine)
    stats = state.stats() if msg.final else {}
    return state, EpochMsg(shard, msg.index, msg.watermark, hits, msg.final, stats)


class IncidentStage:
    """The incident book behind the epoch merger: one deterministic order for everything.

    Replay: the book's clock is event time. Live: it is the wall clock of the source's ticks;
    each tick's hits of rules without a window and control events apply at its time, then the
    epochs released in that tick once every shard sent its share, then the timers; a tick waits
    until the one before is done. Hits of windows (which arrive a watermark later) apply at the
    tick's time, so an incident's timers (`resolve_after`, escalation) count from when spanwatch
    saw the problem.
    """

    clock: float = -math.inf  # live: the latest wall time seen (class default: older snapshots)

    def __init__(self, setup: RunSetup) -> None:
        self.version = STATE_VERSION
        self.merger = EpochMerger([ORDER, *setup.shard_names])
        self.book = IncidentBook(setup.config.incidents)
        self.opened: Counter[tuple[str, str]] = Counter()
        self.transitions: Counter[str] = Counter()
        self.live = False
        self.ticks: deque[Tick] = deque()
        self.prompted = False  # the first tick's hits and controls are applied
        self.complete: dict[int, CompleteEpoch] = {}

    def adapt(self, setup: RunSetup, live: bool) -> None:
        """Set the mode; a book recovered from an older shape keeps its incidents, but its
        epoch merger starts over with the order stage (which that shape's recovery restarts).
        A book restored from a snapshot takes the configuration this run was started with."""
        self.live = live
        self.book.reconfigure(setup.config.incidents)
        if getattr(self, "version", 1) != STATE_VERSION:
            self.merger = EpochMerger([ORDER, *setup.shard_names])
            self.ticks, self.prompted, self.complete = deque(), False, {}
            self.version = STATE_VERSION

    def step(self, msg: EpochMsg | Tick, quarantine: Quarantine) -> list[Result]:
        out: list[Result] = []
        if isinstance(msg, Tick):
            self.ticks.append(msg)
            for part in msg.epochs:
                self._add(part)
            self._run_ticks(quarantine, out)
        elif self.live:
            self._add(msg)
            self._run_ticks(quarantine, out)
        else:
            for epoch in self.merger.add(msg):
                self._apply_epoch(epoch, quarantine, out)
        return out

    def _add(self, msg: EpochMsg) -> None:
        for epoch in self.merger.add(msg):
            self.complete[epoch.index] = epoch

    def _run_ticks(self, quarantine: Quarantine, out: list[Result]) -> None:
        """Live: ticks in order, each once the epochs it released are complete."""
        while self.ticks:
            tick = self.ticks[0]
            if not self.prompted:
                self.prompted = True
                self._prompt(tick, quarantine, out)
            if any(part.index not in self.complete for part in tick.epochs):
                return
            for part in tick.epochs:
                self._apply_epoch(self.complete.pop(part.index), quarantine, out)
            self._emit(self.book.advance(self.clock), out)
            self.ticks.popleft()
            self.prompted = False

    def _apply_epoch(self, epoch: CompleteEpoch, quarantine: Quarantine, out: list[Result]) -> None:
        keyed: list[tuple[float, int, int, Any]] = []
        for rank, source in enumerate(self.merger.sources):
            for pos, item in enumerate(epoch.by_source[source]):
                t = item.time if isinstance(item, Hit) else item.at
                keyed.append((t, rank, pos, item))
        keyed.sort(key=lambda k: k[:3])
        at = self.clock if self.live else None
        for _t, _rank, _pos, item in keyed:
            if isinstance(item, Hit):
                self._apply(
                    "incidents", quarantine, item, partial(self.book.on_hit, item, at=at), out
                )
            else:
                self._apply("incidents", quarantine, item, partial(self.book.on_control, item), out)
        self._emit(self.book.advance(epoch.watermark), out)
        if epoch.final:
            merged: dict[str, Any] = {}
            for source, stats in epoch.stats.items():
                if source != ORDER:
                    merged.update(stats)
            summary = Summary(epoch.stats.get(ORDER, {}), merged, self.opened, self.transitions)
            out.append(summary)

    def _prompt(self, tick: Tick, quarantine: Quarantine, out: list[Result]) -> None:
        """Live: hits that need no window and control events, applied at the tick's time."""
        self.clock = at = max(self.clock, tick.at)
        for hit in tick.hits:
            self._apply("incidents", quarantine, hit, partial(self.book.on_hit, hit, at=at), out)
        for ticket, control in tick.controls:
            outputs = self._apply(
                "incidents", quarantine, control, partial(self.book.on_control, control), out
            )
            if ticket is not None:
                answer = next((o for o in outputs if isinstance(o, ControlReport)), None)
                out.append(Answer(ticket, answer))
        if tick.health is not None:
            out.append(tick.health)

    def _apply(
        self,
        stage: str,
        quarantine: Quarantine,
        item: Any,
        fn: Callable[[], list[Any]],
        out: list[Result],
    ) -> list[Any]:
        ok, outputs = quarantine.run(stage, item, fn)
        outputs = outputs if ok and outputs is not None else []
        self._emit(outputs, out)
        return outputs

    def _emit(self, outputs: list[Any], out: list[Result]) -> None:
        for o in outputs:
            if isinstance(o, Transition):
                line = o.to_log()
                self.transitions[line["type"]] += 1
                if line["type"] == "incident.opened":
                    inc = line["incident"]
                    self.opened[(inc["rule_id"], inc["severity"])] += 1
                out.append(LogLine(line))
            elif isinstance(o, FindingRecord):
                self.transitions[o.type] += 1
                out.append(LogLine(o.to_log()))
            elif isinstance(o, Notification | ControlReport):
                out.append(o)
