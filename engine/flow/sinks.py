"""Where a run's results go: the incident log file, notifications, and the summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from engine.flow.items import LogLine, Result, Summary
from engine.incidents.model import ControlReport, FindingLogData, LogLineData
from notifiers.model import Notification


@dataclass
class RunResult:
    """Filled by the sink as the run goes; read by the command line when it ends."""

    log_lines: int = 0
    reports: list[ControlReport] = field(default_factory=list)
    summary: Summary | None = None
    notification_count: int = 0


def log_line(record: LogLineData | FindingLogData) -> bytes:
    return orjson.dumps(record) + b"\n"


def notification_line(n: Notification) -> bytes:
    """What would be (or was) sent, without the incident bodies: for what-if comparisons."""
    record = {
        "at": n.at,
        "receiver": n.receiver,
        "transition": n.transition,
        "status": n.status,
        "key": n.key,
        "group_labels": n.group_labels,
        "incidents": [i.get("id") for i in n.incidents],
        "escalation_level": n.escalation_level,
        "repeat": n.repeat,
    }
    return orjson.dumps(record) + b"\n"


class _ResultPartition(StatefulSinkPartition[Result, None]):
    def __init__(
        self,
        out: IO[bytes] | None,
        notifications: IO[bytes] | None,
        result: RunResult,
        notify: Callable[[Notification], None] | None,
    ) -> None:
        self.out = out
        self.notifications = notifications
        self.result = result
        self.notify = notify

    def write_batch(self, values: list[Result]) -> None:
        for item in values:
            match item:
                case LogLine(record):
                    self.result.log_lines += 1
                    if self.out is not None:
                        self.out.write(log_line(record))
                case Notification():
                    self.result.notification_count += 1
                    if self.notifications is not None:
                        self.notifications.write(notification_line(item))
                    if self.notify is not None:
                        self.notify(item)
                case ControlReport():
                    self.result.reports.append(item)
                case Summary():
                    self.result.summary = item
        for f in (self.out, self.notifications):
            if f is not None:
                f.flush()

    def snapshot(self) -> None:
        return None

    def close(self) -> None:
        for f in (self.out, self.notifications):
            if f is not None:
                f.close()


class ResultSink(FixedPartitionedSink[Result, None]):
    """One partition, so one writer and one order: the incident stage's."""

    def __init__(
        self,
        out_path: str | Path | None,
        result: RunResult,
        notify: Callable[[Notification], None] | None = None,
        notifications_path: str | Path | None = None,
        *,
        local: bool = True,
    ) -> None:
        """`local`: this process writes the results. In a cluster exactly one process says so,
        so the incident log is written once, by one writer, in the incident stage's order."""
        self.local = local
        self.out_path = out_path
        self.notifications_path = notifications_path
        self.result = result
        self.notify = notify

    def list_parts(self) -> list[str]:
        return ["results"] if self.local else []

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _ResultPartition:
        out = open(self.out_path, "wb") if self.out_path is not None else None  # noqa: SIM115
        notes = None
        if self.notifications_path is not None:
            notes = open(self.notifications_path, "wb")  # noqa: SIM115
        return _ResultPartition(out, notes, self.result, self.notify)
