"""The live source: one partition that drains the inbox and carries the wall clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from engine.live.inbox import Inbox
from engine.stages import LineChunk

POLL = timedelta(milliseconds=200)
LIVE_KEY = "live"


class _InboxPartition(StatefulSourcePartition[tuple[str, LineChunk], None]):
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.finished = False
        self.idle = False

    def next_batch(self) -> list[tuple[str, LineChunk]]:
        if self.finished:
            raise StopIteration
        events, controls, done = self.inbox.drain()
        if done:
            # A stop is not the end of the stream: no end-of-input marker reaches the stages,
            # so their recovered state carries on where it stopped after a restart.
            self.finished = True
        self.idle = not events and not controls
        chunk = LineChunk(0, [], False, events=events, controls=controls, clock=time.time())
        return [(LIVE_KEY, chunk)]

    def next_awake(self) -> datetime | None:
        return datetime.now(UTC) + POLL if self.idle else None

    def snapshot(self) -> None:
        return None


class InboxSource(FixedPartitionedSource[tuple[str, LineChunk], None]):
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    def list_parts(self) -> list[str]:
        return [LIVE_KEY]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _InboxPartition:
        return _InboxPartition(self.inbox)
