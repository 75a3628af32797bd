"""Intake: what the receivers accept becomes durable before they answer, and the dataflow takes
it from the inbox in chunks that a restart can hand it again, chunk for chunk.

    receivers ─ offer ─► match (windowless hits, what windows need) ─► intake log (group commit)
                                                          published in log order ─► inbox
    live source ─ take ─► tick in the intake log ─► Arrivals (events, hits, controls, clock)

Every chunk the live source hands the dataflow is written down first as a *tick*: its wall
clock, how far it took the events, and through which record it took the hits and control
events. The dataflow's steps depend on nothing else (the clock they use is the tick's), so the
same ticks over the same records give the same state and the same outputs. Bytewax snapshots
the state every `live.epoch_seconds` together with the source's resume position (`LogPosition`,
just after a tick); after a crash the source replays the ticks written after that position
(`replay`), the steps recompute exactly what they computed before, and the incident log and
the notifiers drop what they have already written or sent by its id. Then it carries on with
the inbox as the last tick left it (`_restore` rebuilt it from the log at start).

So every event answered 200 is counted exactly once, however often the engine is killed: it
is in the log before the answer, and it is in the state either through the last snapshot or
through the replay of the ticks after it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from engine.flow.items import Arrivals
from engine.flow.run_setup import RunSetup
from engine.incidents.control import ControlEvent, parse_control
from engine.incidents.model import Hit
from engine.live.disk_space import DiskSpace, is_disk_full
from engine.live.inbox import AcceptedItem, Inbox, Taken
from engine.live.wal import IntakeLog, QueuedFrame
from engine.live.wal_format import CONTROL, EVENTS, KAFKA, TICK, Frame, TickInfo, tick_info
from engine.metrics.usage_families import Match

log = logging.getLogger("spanwatch")
ID_FILE = "log-id"


class Refused(Exception):
    """Not taken in: `kind` is "full" (the inbox; retry later), "disk" (no room) or "closed"."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LogPosition:
    """The live source's resume state: just after a tick, and what that tick had taken."""

    log_id: str
    read: int  # the position after the tick
    ev_seq: int
    ev_idx: int
    vis_seq: int
    scan_from: int


KafkaRef = tuple[str, int, int]  # topic, partition, offset of the message the events came in


def encode_events(
    senders: list[str], events: list[dict[str, Any]], kafka: KafkaRef | None = None
) -> bytes:
    """An events frame's payload: the events, and their senders as runs [[sender, count]];
    a Kafka message's frame also holds where the message was (`k`)."""
    runs: list[list[Any]] = []
    for sender in senders:
        if runs and runs[-1][0] == sender:
            runs[-1][1] += 1
        else:
            runs.append([sender, 1])
    if kafka is None:
        return orjson.dumps({"s": runs, "e": events})
    return orjson.dumps({"s": runs, "e": events, "k": list(kafka)})


def decode_events(payload: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    obj = orjson.loads(payload)
    senders = [sender for sender, count in obj["s"] for _ in range(count)]
    return senders, obj["e"]


class Intake:
    def __init__(
        self,
        setup: RunSetup,
        directory: Path,
        inbox: Inbox,
        *,
        disk: DiskSpace | None = None,
        segment_bytes: int = 64 << 20,
        sync: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.setup = setup
        self.match_one: Match = setup.match  # the live engine may meter it (engine.metrics)
        self.inbox = inbox
        self.disk = disk
        self.clock = clock
        self.log = IntakeLog(
            directory, segment_bytes=segment_bytes, on_publish=self._publish, sync=sync
        )
        self.log_id = self._identity(directory)
        self.last_clock = 0.0
        self.ticks_end = 0  # the position after the last tick written
        self.position: LogPosition | None = None

    def open(self) -> LogPosition:
        """Rebuild the inbox from the log (once Kafka, if any, can be read); where it stands."""
        self.position = self._restore()
        return self.position

    @staticmethod
    def _identity(directory: Path) -> str:
        """A name for this log, so that a snapshot taken over another log is not replayed on it."""
        path = directory / ID_FILE
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            ident = secrets.token_hex(8)
            path.write_text(ident + "\n")
            return ident

    def start(self) -> None:
        self.log.start()

    def close(self) -> None:
        self.inbox.close()
        self.log.close()

    # -- receivers ------------------------------------------------------------------------------

    def _check_room(self, events: int, nbytes: int) -> None:
        if self.inbox.closed:
            raise Refused("closed", "spanwatch is shutting down; retry later")
        if self.disk is not None and self.disk.low():
            raise Refused("disk", self.disk.reason())
        if not self.inbox.reserve(events, nbytes):
            raise Refused("full", "spanwatch is overloaded; retry later")

    def match(self, senders: list[str], events: list[dict[str, Any]]) -> _Matched:
        """Each event through the rules and detector routing; one that fails is quarantined."""
        out = _Matched()
        for i, event in enumerate(events):
            _, found = self.setup.quarantine.run("match", event, partial(self.match_one, event))
            if found is None:  # put aside by the quarantine
                continue
            hits, windowed = found
            out.senders.append(senders[i])
            out.events.append(event)
            out.arrivals.append((senders[i], event["time"], windowed))
            out.hits.extend(hits)
        return out

    def offer_events(
        self,
        events: list[dict[str, Any]],
        senders: list[str] | str,
        nbytes: int,
        kafka: KafkaRef | None = None,
    ) -> QueuedFrame | None:
        """Write `events` to the log; wait on the answer before saying 200 (None: nothing to
        wait for, every event was quarantined). Refused when they cannot be taken now.
        `kafka`: the message they came in, written with them (see `kafka_offsets`)."""
        self._check_room(len(events), nbytes)
        names = [senders] * len(events) if isinstance(senders, str) else senders
        try:
            matched = self.match(names, events)
            try:
                payload = encode_events(matched.senders, matched.events, kafka)
            except (TypeError, orjson.JSONEncodeError):  # one cannot be written down
                keep = [i for i, event in enumerate(matched.events) if self._writable(event)]
                matched = self.match(
                    [matched.senders[i] for i in keep], [matched.events[i] for i in keep]
                )
                payload = encode_events(matched.senders, matched.events, kafka)
        except BaseException:
            self.inbox.release(len(events), nbytes)
            raise
        if len(matched.events) < len(events):
            self.inbox.release(len(events) - len(matched.events), 0)
        if not matched.events:
            self.inbox.release(0, nbytes)
            return None
        meta = AcceptedItem(0, 0, matched.arrivals, matched.hits, [], nbytes)
        kind = EVENTS if kafka is None else KAFKA
        return self._append(kind, payload, meta, len(matched.events), nbytes)

    def kafka_offsets(self) -> dict[tuple[str, int], int]:
        """The offset of the last message of each Kafka partition the log holds: a consumer
        goes on after it whatever offset its group had committed (a crash may have come
        between writing a message here and committing it), so no message is taken twice."""
        found: dict[tuple[str, int], int] = {}
        for frame in self.log.frames(self.log.first, self.log.end):
            if frame.kind == KAFKA:
                topic, partition, offset = orjson.loads(frame.payload)["k"]
                found[(topic, partition)] = max(offset, found.get((topic, partition), -1))
        return found

    def _writable(self, event: dict[str, Any]) -> bool:
        ok, _ = self.setup.quarantine.run("intake", event, lambda: orjson.dumps(event))
        return ok

    def offer_control(self, obj: dict[str, Any], ticket: str | None = None) -> QueuedFrame:
        """Write a control event (as the API or Slack sent it, parsed already) to the log."""
        if self.inbox.closed:
            raise Refused("closed", "spanwatch is shutting down; retry later")
        if self.disk is not None and self.disk.low():
            raise Refused("disk", self.disk.reason())
        event = parse_control(obj, where="api")
        payload = orjson.dumps({"c": obj, "k": ticket})
        return self._append(
            CONTROL, payload, AcceptedItem(0, 0, [], [], [(ticket, event)], 0), 0, 0
        )

    def _append(
        self, kind: int, payload: bytes, meta: AcceptedItem, events: int, nbytes: int
    ) -> QueuedFrame:
        pending = self.log.append(kind, self.clock(), payload, meta)

        def settled(done: QueuedFrame) -> None:
            if done.error is not None:
                self.inbox.release(events, nbytes)
                if self.disk is not None and is_disk_full(done.error):
                    self.disk.found_full()

        pending.on_done(settled)
        return pending

    def _publish(self, batch: list[QueuedFrame], end: int) -> None:
        records = []
        for pending in batch:
            record = pending.meta
            assert isinstance(record, AcceptedItem)
            record.seq, record.pos = pending.seq, pending.pos
            records.append(record)
        self.inbox.publish(records, end)

    # -- the live source ------------------------------------------------------------------------

    def take(self, limit: int = 250) -> tuple[Arrivals, LogPosition] | None:
        """The next chunk for the dataflow, written down as a tick first; None when the tick
        cannot be written (the disk is full: the source waits)."""
        drain = self.inbox.peek(limit)
        clock = max(self.clock(), self.last_clock)
        info = TickInfo(drain.ev_seq, drain.ev_idx, drain.vis_seq, drain.scan_from)
        try:
            end = self.log.write_tick(clock, info)
        except OSError as exc:
            if self.disk is not None and is_disk_full(exc):
                self.disk.found_full()
            log.error("intake log: cannot write a tick (%s); the dataflow waits", exc)
            return None
        self.inbox.commit(drain)
        self.last_clock = clock
        self.ticks_end = end
        position = LogPosition(
            self.log_id, end, info.ev_seq, info.ev_idx, info.vis_seq, info.scan_from
        )
        return Arrivals(drain.events, drain.hits, drain.controls, clock), position

    def sync(self) -> None:
        self.log.sync()

    def beginning(self) -> LogPosition:
        """Where a dataflow without any snapshot starts: the oldest tick the log holds."""
        first = self.log.first
        return LogPosition(self.log_id, first, 0, 0, 0, first)

    def replay(self, since: LogPosition) -> Iterator[tuple[Arrivals, LogPosition]]:
        """The chunks the source took after `since`, again, from the ticks in the log (up to
        the last one: what follows it waits in the inbox already)."""
        follower = _Follower(self, since.ev_seq, since.ev_idx, since.vis_seq)
        for frame in self.log.frames(since.scan_from, self.ticks_end):
            if frame.kind != TICK:
                follower.add(frame)
            elif frame.pos >= since.read:
                info = tick_info(frame)
                events, hits, controls = follower.take(info)
                self.last_clock = max(self.last_clock, frame.time)
                position = LogPosition(
                    self.log_id, frame.end, info.ev_seq, info.ev_idx, info.vis_seq, info.scan_from
                )
                yield Arrivals(events, hits, controls, frame.time), position

    def _restore(self) -> LogPosition:
        """The inbox as the last tick in the log left it; the position after that tick."""
        state = self.log.state
        if state.last_tick is None:
            info, read, clock = TickInfo(0, 0, 0, state.first), state.first, 0.0
        else:
            frame, info = state.last_tick
            read, clock = frame.end, frame.time
        self.last_clock = clock
        self.ticks_end = read
        follower = _Follower(self, info.ev_seq, info.ev_idx, info.vis_seq)
        for frame in self.log.frames(info.scan_from, state.end):
            if frame.kind != TICK:
                follower.add(frame)
        records, head = follower.leftover()
        self.inbox.restore(records, head, (info.ev_seq, info.ev_idx), info.vis_seq, state.end)
        waiting = sum(len(r.arrivals) for r in records) - head
        if waiting or any(r.hits or r.controls for r in records):
            log.warning("intake log: %d accepted events not yet taken in, taken up again", waiting)
        return LogPosition(
            self.log_id, read, info.ev_seq, info.ev_idx, info.vis_seq, info.scan_from
        )

    # -- reading records back -------------------------------------------------------------------

    def record_of(self, frame: Frame) -> AcceptedItem:
        """A record as the receivers had published it, from its frame."""
        if frame.kind == CONTROL:
            obj = orjson.loads(frame.payload)
            _ok, event = self.setup.quarantine.run(
                "control", obj, lambda: parse_control(obj["c"], where="intake log")
            )
            controls = [(obj.get("k"), event)] if event is not None else []
            return AcceptedItem(frame.seq, frame.pos, [], [], controls, 0)
        senders, events = self._events_of(frame)
        matched = self.match(senders, events)
        return AcceptedItem(
            frame.seq, frame.pos, matched.arrivals, matched.hits, [], len(frame.payload)
        )

    def _events_of(self, frame: Frame) -> tuple[list[str], list[dict[str, Any]]]:
        return decode_events(frame.payload)  # EVENTS and KAFKA alike

    def recall(
        self, refs: list[tuple[int, int]]
    ) -> dict[tuple[int, int], tuple[str, dict[str, Any]]]:
        """(sender, event) of events by their place in the log: (record position, index)."""
        wanted: dict[int, list[int]] = {}
        for pos, idx in refs:
            wanted.setdefault(pos, []).append(idx)
        found: dict[tuple[int, int], tuple[str, dict[str, Any]]] = {}
        for pos, indices in wanted.items():
            senders, events = self._events_of(self.log.read(pos))
            for idx in indices:
                found[(pos, idx)] = (senders[idx], events[idx])
        return found


@dataclass
class _Matched:
    senders: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[tuple[str, float, list[tuple[str, Any]]]] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)


class _Follower:
    """The inbox as the source saw it, rebuilt from the log: records come in, ticks take."""

    def __init__(self, intake: Intake, ev_seq: int, ev_idx: int, vis_seq: int) -> None:
        self.intake = intake
        self.ev = (ev_seq, ev_idx)
        self.vis_seq = vis_seq
        self.waiting: deque[AcceptedItem] = deque()  # published, with events not taken
        self.head = 0
        self.unpublished: deque[AcceptedItem] = deque()

    def add(self, frame: Frame) -> None:
        ev_seq, ev_idx = self.ev
        if frame.seq <= self.vis_seq:  # published already: only its events may wait
            if frame.seq < ev_seq or frame.kind == CONTROL:
                return
            record = self.intake.record_of(frame)
            record.hits, record.controls = [], []
            if frame.seq == ev_seq:  # the first one waiting: its first events were taken
                if ev_idx >= len(record.arrivals):
                    return
                self.head = ev_idx
            if record.arrivals:
                self.waiting.append(record)
            return
        self.unpublished.append(self.intake.record_of(frame))

    def take(
        self, info: TickInfo
    ) -> tuple[list[Taken], list[Hit], list[tuple[str | None, ControlEvent]]]:
        hits: list[Hit] = []
        controls: list[tuple[str | None, ControlEvent]] = []
        while self.unpublished and self.unpublished[0].seq <= info.vis_seq:
            record = self.unpublished.popleft()
            hits.extend(record.hits)
            controls.extend(record.controls)
            if record.arrivals:
                self.waiting.append(record)
        self.vis_seq = max(self.vis_seq, info.vis_seq)
        events: list[Taken] = []
        while self.waiting and (self.waiting[0].seq, 0) <= (info.ev_seq, info.ev_idx):
            record = self.waiting[0]
            stop = len(record.arrivals) if record.seq < info.ev_seq else info.ev_idx
            events.extend((*record.arrivals[i], (record.pos, i)) for i in range(self.head, stop))
            if stop < len(record.arrivals):
                self.head = stop
                break
            self.waiting.popleft()
            self.head = 0
        self.ev = (info.ev_seq, info.ev_idx)
        return events, hits, controls

    def leftover(self) -> tuple[list[AcceptedItem], int]:
        """What was not taken: the waiting records (the first from event `head`), then the
        records no tick had published yet."""
        return [*self.waiting, *self.unpublished], self.head
