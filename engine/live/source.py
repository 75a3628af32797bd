"""The live source: one partition that drains the inbox and carries the wall clock.

It polls often (every `POLL` when idle), because what it hands on is also the incident stage's
clock: a policy hit, an ack or a due timer waits at most that long before it takes effect.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from engine.items import Arrivals
from engine.live.inbox import Inbox

POLL = timedelta(milliseconds=50)
LIVE_KEY = "live"


class _InboxPartition(StatefulSourcePartition[tuple[str, Arrivals], None]):
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.finished = False
        self.idle = False

    def next_batch(self) -> list[tuple[str, Arrivals]]:
        if self.finished:
            raise StopIteration
        events, hits, controls, done = self.inbox.drain()
        if done:
            # A stop is not the end of the stream: no end-of-input marker reaches the stages,
            # so their recovered state carries on where it stopped after a restart.
            self.finished = True
        self.idle = not events and not controls and not hits
        return [(LIVE_KEY, Arrivals(events, hits, controls, time.time()))]

    def next_awake(self) -> datetime | None:
        return datetime.now(UTC) + POLL if self.idle else None

    def snapshot(self) -> None:
        return None


class InboxSource(FixedPartitionedSource[tuple[str, Arrivals], None]):
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    def list_parts(self) -> list[str]:
        return [LIVE_KEY]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _InboxPartition:
        return _InboxPartition(self.inbox)
