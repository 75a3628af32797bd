"""What the dataflow's steps hand one another: one small type per hand-over.

read ──► SortedRecords (replay) | Arrivals (live)
decode ──► Decoded: events and control events with their place in the order
match ──► ToOrder (everything, replay; what windows need, live) and, live, Prompt
order ──► EpochMsg per destination (and Health, live)
correlate_and_detect ──► EpochMsg of hits
incidents ──► results for the sink ("log", "notify", "report", "answer", "health", "summary")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.incidents.control import ControlEvent
from engine.incidents.model import Hit

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
    """Replay's input: the next records of the history in event-time order.

    A record is one tag byte (`SPAN`, `EVENT` or `CONTROL`) and the canonical JSON of an event or a
    control event; see `engine.history_sort`.
    """

    items: list[tuple[float, bytes]]
    done: bool = False


@dataclass(slots=True)
class Arrivals:
    """The live engine's input: what the receivers and the API took in, and the wall clock."""

    # (source, event, what windows need of it, or None when it is still to be matched)
    events: list[tuple[str, dict[str, Any], list[tuple[str, Any]] | None]]
    hits: list[Hit]  # hits of rules without a window, matched as the events came in
    controls: list[tuple[str | None, ControlEvent]]  # (ticket the API waits on, control)
    clock: float


@dataclass(slots=True)
class Timed:
    """One event or control event at its place in the order: time, then arrival sequence."""

    time: float
    seq: int
    source: str  # live: the sender whose watermark this advances; replay: ""
    payload: Any  # the event dict, a Matched, or a ControlEvent


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


@dataclass(slots=True)
class Prompt:
    """Live: hits and control events the incident stage applies at once, at wall time `at`.

    Sent with every chunk, so it is also the incident stage's clock tick (timers, escalation).
    """

    at: float
    hits: list[Hit]
    controls: list[tuple[str | None, ControlEvent]]


@dataclass(slots=True)
class Health:
    """Live: per-source event-time counters, and warnings for the log."""

    sources: dict[str, dict[str, Any]]
    totals: dict[str, int]
    warnings: list[str]
