"""The live source: one partition that takes from the inbox, tick by tick, and carries the clock.

Each tick is written to the intake log before its chunk goes on (`Intake.take`), and the
partition's resume state is the position after the last tick it handed on (`LogPosition`).
When Bytewax resumes from a snapshot, the partition first replays the ticks written after
that position, so the dataflow sees exactly the chunks it saw before the crash; then it goes
on with the inbox.

It polls often (every `POLL` when idle), because what it hands on is also the incident stage's
clock: a policy hit, an ack or a due timer waits at most that long before it takes effect.
While the state directory's disk is full it holds the dataflow where it is (no chunk, and so no
snapshot that could not be written) until there is room again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from engine.flow.items import Arrivals
from engine.live.intake import Intake, LogPosition

log = logging.getLogger("spanwatch")
POLL = timedelta(milliseconds=50)
LIVE_KEY = "live"
DISK_WAIT = 0.25  # seconds between looks at a full disk
CHUNK = 250  # events per tick at most: short steps, so hits and acks are served between them


class _LivePartition(StatefulSourcePartition[tuple[str, Arrivals], LogPosition]):
    def __init__(self, intake: Intake, resume: LogPosition | None, key: str = LIVE_KEY) -> None:
        self.intake = intake
        self.key = key
        self.replaying: Iterator[tuple[Arrivals, LogPosition]] | None = None
        assert intake.position is not None, "open the intake before the dataflow"
        if resume is not None and resume.log_id != intake.log_id:
            log.warning("intake log: the snapshot was taken over another intake log; not replayed")
            resume = None
        # No snapshot (yet): the state is empty, so everything the log holds is taken again.
        self.position = resume if resume is not None else intake.beginning()
        self.replaying = intake.replay(self.position)
        self.replayed = 0
        self.resumed = resume is not None
        self.finished = False
        self.idle = False

    def next_batch(self) -> list[tuple[str, Arrivals]]:
        if self.replaying is not None and self.intake.inbox.closed:
            self.replaying = None  # a stop: the ticks not replayed yet are replayed next start
            self.finished = True
        if self.replaying is not None:
            for arrivals, position in self.replaying:
                self.position = position
                self.replayed += 1
                return [(self.key, arrivals)]
            self.replaying = None
            if self.replayed or self.resumed:
                log.warning(
                    "recovery: resumed from %s, replayed %d ticks of the intake log",
                    "a snapshot" if self.resumed else "the start (no snapshot)",
                    self.replayed,
                )
        if self.finished:
            raise StopIteration
        intake = self.intake
        while intake.disk is not None and intake.disk.low() and not intake.inbox.closed:
            time.sleep(DISK_WAIT)  # hold the dataflow: no snapshot goes to a full disk
        taken = intake.take(CHUNK)
        if taken is None:
            self.idle = True
            return []
        arrivals, self.position = taken
        if intake.inbox.closed:
            # A stop takes one last tick (every waiting hit and control event, a chunk of
            # events) and ends: the events still waiting are in the intake log, and the next
            # start takes them up, so a backlog never holds a stop. A stop is not the end of
            # the stream either: no end-of-input marker reaches the stages, so their recovered
            # state carries on where it stopped after a restart.
            self.finished = True
            if intake.inbox.waiting_events:
                log.info(
                    "stop: %d accepted events wait in the intake log for the next start",
                    intake.inbox.waiting_events,
                )
        self.idle = not arrivals.events and not arrivals.controls and not arrivals.hits
        return [(self.key, arrivals)]

    def next_awake(self) -> datetime | None:
        return datetime.now(UTC) + POLL if self.idle else None

    def snapshot(self) -> LogPosition:
        try:
            self.intake.sync()  # the ticks this position counts are on disk
        except OSError as exc:
            log.error("intake log: cannot sync before a snapshot: %s", exc)
        return self.position


class LiveSource(FixedPartitionedSource[tuple[str, Arrivals], LogPosition]):
    """`partition`: this process's name for its one partition (`live-I` in a cluster), listed
    only here, so Bytewax reads it where its intake log is."""

    def __init__(self, intake: Intake, partition: str = LIVE_KEY) -> None:
        self.intake = intake
        self.partition = partition

    def list_parts(self) -> list[str]:
        return [self.partition]

    def build_part(
        self, step_id: str, for_part: str, resume_state: LogPosition | None
    ) -> _LivePartition:
        return _LivePartition(self.intake, resume_state, for_part)
