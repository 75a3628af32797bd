"""What the dataflow's steps hand one another: one small type per hand-over.

read ──► SortedRecords (replay) | Arrivals (live), as a PartitionChunk
decode ──► Decoded: events and control events with their place in the order
match ──► ToOrder (everything, replay; what windows need, and the hits and controls to apply
          at once, live)
order ──► Addressed: an EpochMsg per shard; to the incidents an EpochMsg (replay) or a Tick
          (live); the dataflow sends each destination one Batch per step (as a ForShard)
correlate_and_detect ──► EpochMsg of hits
incidents ──► Result for the sink: a LogLine, a Notification, a ControlReport, an Answer (live),
              a Health (live) or the run's Summary (replay)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from engine.flow.epoch_merge import EpochMsg
from engine.incidents.control import ControlEvent
from engine.incidents.model import ControlReport, FindingLogData, Hit, LogLineData
from notifiers.model import Notification

MAX_REPORTED_BAD_LINES = 100


@dataclass
class RunStats:
    """Counters that travel with the data to the end of the run, then make the summary."""

    lines: int = 0
    events: int = 0
    bad_lines: int = 0
    late: int = 0
    outside_range: int = 0
    control_events: int = 0
    duplicates: int = 0
    bad_examples: list[str] = field(default_factory=list)

    def merge(self, other: RunStats) -> None:
        self.lines += other.lines
        self.events += other.events
        self.bad_lines += other.bad_lines
        self.late += other.late
        self.outside_range += other.outside_range
        self.control_events += other.control_events
        self.duplicates += other.duplicates
        room = MAX_REPORTED_BAD_LINES - len(self.bad_examples)
        self.bad_examples.extend(other.bad_examples[: max(room, 0)])

    def bad(self, where: str) -> None:
        self.bad_lines += 1
        if len(self.bad_examples) < MAX_REPORTED_BAD_LINES:
            self.bad_examples.append(where)


@dataclass(slots=True)
class SortedRecords:
    """Replay's input: the next records of one partition of the history in event-time order.

    An item is (time, place in the sorted history, record); a record is one tag byte (`SPAN`,
    `EVENT` or `CONTROL`) and the canonical JSON of an event or a control event; see
    `engine.history_sort` and `engine.flow.replay_source`. The partition's last chunk carries its counters.
    """

    items: list[tuple[float, int, bytes]]
    done: bool = False
    stats: RunStats | None = None
    number: int = 0  # the partition's chunks counted from 1


@dataclass(slots=True)
class Arrivals:
    """The live engine's input: one tick of the live source (`engine.live.intake`)."""

    # (sender, event time, what windows need of it, (record position, index) in the intake log)
    events: list[tuple[str, float, list[tuple[str, Any]], tuple[int, int]]]
    hits: list[Hit]  # hits of rules without a window, matched as the events came in
    controls: list[tuple[str | None, ControlEvent]]  # (ticket the API waits on, control)
    clock: float  # the tick's wall time: the only clock the live steps read


@dataclass(slots=True)
class Timed:
    """One event or control event at its place in the order: time, then arrival sequence."""

    time: float
    seq: int
    source: str  # live: the sender whose watermark this advances; replay: ""
    payload: Any  # the event dict, a Matched, or a ControlEvent
    ref: tuple[int, int] | None = None  # live: where the event is in the intake log


@dataclass(slots=True)
class Decoded:
    """One chunk after decoding: events and control events, each at its place in the order."""

    partition: str
    items: list[Timed]
    hits: list[Hit]  # live: matched on arrival, applied at once
    controls: list[tuple[str | None, ControlEvent]]  # live: applied at once, not ordered
    clock: float | None  # live: wall time when the chunk was taken in
    done: bool
    stats: RunStats | None  # set with the partition's last chunk
    number: int = 0  # replay: the partition's chunks counted from 1


@dataclass(slots=True)
class Matched:
    """One event after the rules and detectors' routing looked at it."""

    hits: list[Hit]  # detection rules without a window: an incident at once
    windowed: list[tuple[str, Any]]  # (shard, CorrelationInput | Observation)


@dataclass(slots=True)
class ToOrder:
    """What one partition hands the order stage."""

    partition: str
    items: list[Timed]
    clock: float | None
    done: bool
    stats: RunStats | None
    hits: list[Hit] = field(default_factory=list)  # live: applied at once, at `clock`
    controls: list[tuple[str | None, ControlEvent]] = field(default_factory=list)  # live
    # replay: the times of the chunk's other events, which went straight to their shards
    # (`engine.flow.shard_lanes`) but still count for where epochs end
    times: list[float] = field(default_factory=list)


@dataclass(slots=True)
class Tick:
    """Live: one tick for the incident stage, in the order the source took them.

    Its hits (rules without a window) and control events apply at once, at wall time `at`;
    then the epochs the order stage released in the same tick, once every shard has sent its
    share; then the timers up to `at`. One tick after the other, so a replay of the same ticks
    after a crash gives the same transitions and notifications (see `engine.live.intake`).
    """

    at: float
    hits: list[Hit]
    controls: list[tuple[str | None, ControlEvent]]
    epochs: list[EpochMsg]  # the order stage's own share of each epoch released
    health: Health | None = None


@dataclass(slots=True)
class Health:
    """Live: per-source event-time counters, and warnings for the log."""

    sources: dict[str, dict[str, Any]]
    totals: dict[str, int | str | None]  # counts, and the watermark as text when there is one
    warnings: list[str]


class PartitionChunk(NamedTuple):
    """What the source read from one partition, with that partition's name."""

    partition: str
    records: SortedRecords | Arrivals


class Addressed(NamedTuple):
    """One message of the order stage and where it goes: "incidents" or a keyed shard.

    A pair, so Bytewax keys the message by its destination as it is.
    """

    dest: str
    msg: EpochMsg | Tick  # a Tick only to the incidents, live


class Batch(NamedTuple):
    """What one step of the order stage sends one destination: its messages, in order."""

    dest: str
    msgs: list[EpochMsg | Tick]


class ForShard(NamedTuple):
    """Epochs' shares for one keyed shard, in order, with the shard's name (its key)."""

    shard: str
    msgs: list[EpochMsg]


@dataclass(frozen=True, slots=True)
class LogLine:
    """One incident transition or findings line, as the incident log writes it."""

    record: LogLineData | FindingLogData


@dataclass(frozen=True, slots=True)
class Answer:
    """Live: what the control event an API request waits on came to (None: it was put aside)."""

    ticket: str
    report: ControlReport | None


@dataclass
class Summary:
    """The end of a replay, for the command line's report."""

    stats: dict[str, Any]
    shard_stats: dict[str, Any]
    incidents_opened: Counter[tuple[str, str]]
    transitions: Counter[str]


Result = LogLine | Notification | ControlReport | Answer | Health | Summary
"""What the incident stage hands the sink, one type per thing the sink does with it."""
