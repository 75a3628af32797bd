"""A real intake (intake log on disk, inbox, the default rules) for tests of the receivers and
the API, without a dataflow."""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.config import SpanwatchConfig
from engine.flow.run_setup import RunSetup
from engine.live.inbox import Inbox
from engine.live.intake import Intake, decode_events
from engine.live.wal_format import EVENTS, KAFKA


@functools.cache
def default_setup() -> RunSetup:
    return RunSetup(SpanwatchConfig(), all_shards=True)


def open_intake(
    directory: Path, inbox: Inbox | None = None, setup: RunSetup | None = None
) -> Intake:
    intake = Intake(setup or default_setup(), directory, inbox or Inbox(1000))
    intake.open()
    intake.start()
    return intake


@contextmanager
def temporary_intake(inbox: Inbox | None = None, setup: RunSetup | None = None) -> Iterator[Intake]:
    directory = Path(tempfile.mkdtemp(prefix="spanwatch-intake-"))
    intake = open_intake(directory, inbox, setup)
    try:
        yield intake
    finally:
        intake.close()
        shutil.rmtree(directory, ignore_errors=True)


def logged_events(intake: Intake, since: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The events written to the intake log from position `since` on, in order, and the
    position after them."""
    found: list[dict[str, Any]] = []
    end = intake.log.end
    for frame in intake.log.frames(max(since, intake.log.first), end):
        if frame.kind in (EVENTS, KAFKA):
            found.extend(decode_events(frame.payload)[1])
    return found, end
