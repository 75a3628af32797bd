"""Live watermarks: one per sender, so that one sender's clock or delay is not everyone's.

The live order stage's state (`engine.flow.steps.OrderState`), so it lives with the dataflow's
steps; the live engine only reads its pseudonyms for `/healthz`.

A source is one sender of telemetry: an OTLP client or resource (see `engine.live.sources`) or a
Kafka partition. Each source's clock is the newest event time it has sent, never beyond the
wall clock at arrival. The watermark, the time before which every event is taken to have
arrived, is the least of the sources' clocks less `allowed_lateness`:

    watermark = min(now, min over sources of max(clock, now - idle_timeout)) - allowed_lateness

So a source holds the others back by at most `idle_timeout` behind the wall clock: one that has
gone quiet stops holding them back after that long, and so does one whose clock is hours behind
(its events then arrive behind the watermark, and count only in windows still open). A source
whose clock is ahead cannot move the watermark past the wall clock; an event more than
`stream.max_future` ahead never gets here, since the receivers refuse it
(`engine.otlp.event_checks`) and count it against its sender.

Counters per source (events, late, lag) go to `/healthz` under a pseudonym, since a source's
name may be a host name or an address. When more than 0.1% of the last minute's events
came late, a warning (at most one a minute) names the source and the setting to change.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from engine.flow.items import Health
from engine.timeutil import iso

WARN_SHARE = 0.001  # warn when more than this share of a minute's events were late
MINUTE = 60.0
HEALTH_EVERY = 1.0  # seconds of wall time between two Health reports
SHOWN_SOURCES = 100  # sources listed in /healthz, the latest first


def pseudonym(source: str) -> str:
    """A stable short name for a source that says nothing about who or where it is."""
    return "src-" + hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:10]


@dataclass(slots=True)
class SourceClock:
    high: float = -math.inf  # newest event time sent, capped at the wall clock on arrival
    seen: float = -math.inf  # wall time of the last arrival
    events: int = 0
    late: int = 0


class SourceClocks:
    """Per-source clocks and lateness counters. Plain attributes: Bytewax snapshots it."""

    def __init__(
        self,
        *,
        allowed_lateness: float,
        idle_timeout: float,
        max_sources: int = 10_000,
    ) -> None:
        self.allowed_lateness = allowed_lateness
        self.idle_timeout = idle_timeout
        self.max_sources = max_sources
        self.clocks: dict[str, SourceClock] = {}  # least recently seen first
        self.totals = {"events": 0, "late": 0, "sources_forgotten": 0}
        # the last minute, by second of wall time: [events, late, late from clocks behind]
        self.seconds: dict[int, list[int]] = {}
        self.late_by: dict[str, int] = {}  # since the last warning
        self.last_warning = -math.inf
        self.warnings: list[str] = []
        self.last_health = -math.inf

    def expect(self, source: str, now: float) -> None:
        """A sender known to exist before it sends (a Kafka partition): it holds the watermark
        from now on, as a sender that went quiet does, for at most `idle_timeout`."""
        if source not in self.clocks:
            self._clock(source).seen = now

    def arrive(self, source: str, t: float, now: float) -> tuple[float, int]:
        """Count one event of `source` at event time `t`, arrived at wall time `now`.

        Returns the sender's own watermark before this event (its clock less
        `allowed_lateness`) and the event's number among the sender's: both depend on that
        sender's stream alone, not on how other senders' events interleave with it.
        """
        clock = self._clock(source)
        own = clock.high - self.allowed_lateness
        clock.seen = max(clock.seen, now)
        clock.events += 1
        self.totals["events"] += 1
        self._second(now)[0] += 1
        clock.high = max(clock.high, min(t, now))
        return own, clock.events

    def _clock(self, source: str) -> SourceClock:
        """The sender's clock, made most recently seen (the least recent is forgotten when
        there are `max_sources`)."""
        clock = self.clocks.pop(source, None)
        if clock is None:
            clock = SourceClock()
            if len(self.clocks) >= self.max_sources:
                del self.clocks[next(iter(self.clocks))]
                self.totals["sources_forgotten"] += 1
        self.clocks[source] = clock  # most recently seen goes last
        return clock

    def count_late(self, source: str, now: float) -> None:
        """An event of `source` came after a window it belonged to had closed."""
        self.totals["late"] += 1
        second = self._second(now)
        second[1] += 1
        self.late_by[source] = self.late_by.get(source, 0) + 1
        clock = self.clocks.get(source)
        if clock is not None:
            clock.late += 1
            if now - clock.high > self.idle_timeout:
                second[2] += 1
        if now - self.last_warning < MINUTE:
            return  # once a minute is enough
        events, late, behind = (sum(col) for col in zip(*self.seconds.values(), strict=True))
        if late > WARN_SHARE * events:
            self.last_warning = now
            self.warnings.append(self._warning(events, late, behind))
            self.late_by = {}

    def watermark(self, now: float) -> float:
        floor = now - self.idle_timeout
        low = now
        for clock in self.clocks.values():
            if clock.high < low:
                low = max(clock.high, floor)
        return low - self.allowed_lateness

    def forget_idle(self, now: float) -> None:
        """Drop sources silent for a long while; their clocks no longer matter."""
        horizon = now - max(10 * self.idle_timeout, 3600.0)
        while self.clocks:
            first = next(iter(self.clocks))
            if self.clocks[first].seen >= horizon:
                break
            del self.clocks[first]

    def health(self, now: float, watermark: float, closed: float) -> Health | None:
        """A report for `/healthz` (and any warnings), at most once per second of wall time.

        `watermark`: what the order stage waits for; `closed`: the windows closed so far.
        """
        if now - self.last_health < HEALTH_EVERY and not self.warnings:
            return None
        self.last_health = now
        shown = list(self.clocks.items())[-SHOWN_SOURCES:]
        sources = {
            pseudonym(name): {
                "events": c.events,
                "late": c.late,
                "lag_seconds": round(now - c.high, 3) if math.isfinite(c.high) else None,
                "idle_seconds": round(now - c.seen, 3),
            }
            for name, c in reversed(shown)
        }
        totals = {
            **self.totals,
            "source_count": len(self.clocks),
            "watermark": iso(watermark) if math.isfinite(watermark) else None,
            "windows_closed_to": iso(closed) if math.isfinite(closed) else None,
        }
        warnings, self.warnings = self.warnings, []
        return Health(sources, totals, warnings)

    def _second(self, now: float) -> list[int]:
        """This second's counters; seconds older than a minute are dropped."""
        key = int(now)
        second = self.seconds.get(key)
        if second is None:
            second = self.seconds[key] = [0, 0, 0]
            for old in [k for k in self.seconds if k <= key - MINUTE]:
                del self.seconds[old]
        return second

    def _warning(self, events: int, late: int, behind: int) -> str:
        worst, count = max(self.late_by.items(), key=lambda kv: (kv[1], kv[0]))
        if behind * 2 > late:
            advice = (
                f"most came from sources whose clocks run more than stream.idle_timeout "
                f"({self.idle_timeout:g} s) behind this machine's: fix their clocks, or raise "
                f"stream.idle_timeout to wait for them"
            )
        else:
            advice = (
                f"raise stream.allowed_lateness (now {self.allowed_lateness:g} s) to keep "
                f"windows open longer"
            )
        return (
            f"{late} of {events} events ({late / max(events, 1):.2%}) in the last minute came after "
            f"their windows had closed, the most from {worst} ({pseudonym(worst)}, {count}); "
            f"{advice}"
        )
