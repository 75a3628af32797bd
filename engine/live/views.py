"""What the API can answer without entering the dataflow: incidents and silences as last seen.

Fed by the sink from the incident log and the control reports; rebuilt at start-up from
the incident log file and the silence file, so a restart answers the same. An API request
that posts a control event waits here for its answer (`expect` / `answer`): the sink applies
the incident-log lines of the control before its answer, so once a request has its answer,
the next read shows it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import orjson

from engine.incidents.model import LogLineData, ReportData
from engine.live.silence_file import SilenceFile
from notifiers.model import IncidentData


class Views:
    def __init__(
        self,
        keep_resolved: int = 1000,
        silence_file: SilenceFile | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.silence_file = silence_file
        self.clock = clock
        self._lock = threading.Lock()
        self.incidents: dict[str, IncidentData] = {}
        self.by_fingerprint: dict[str, str] = {}
        self.silences: dict[str, dict[str, Any]] = {}
        self.resolved_order: list[str] = []
        self.keep_resolved = keep_resolved
        self.reports: list[ReportData] = []
        self.event_time: dict[str, Any] = {}
        self._waiting: dict[str, _Answer] = {}

    def apply(self, line: LogLineData) -> None:
        incident = line["incident"]
        with self._lock:
            self.incidents[incident["id"]] = incident
            self.by_fingerprint[incident["fingerprint"]] = incident["id"]
            if line["type"] == "incident.resolved":
                self.resolved_order.append(incident["id"])
                while len(self.resolved_order) > self.keep_resolved:
                    self.incidents.pop(self.resolved_order.pop(0), None)

    def report(self, report: ReportData) -> None:
        with self._lock:
            self.reports = [*self.reports[-99:], report]
            kind = report.get("kind")
            if kind in ("silence", "expire_silence") and report.get("outcome") == "applied":
                self.silences[report["target"]] = dict(report["data"]) or {"id": report["target"]}
                if self.silence_file is not None:
                    self.silence_file.save(self.silences, self.clock())

    def expect(self, ticket: str) -> _Answer:
        """Register a control event's ticket before it enters the inbox."""
        answer = _Answer()
        with self._lock:
            self._waiting[ticket] = answer
        return answer

    def answer(self, ticket: str, report: ReportData | None) -> None:
        with self._lock:
            waiting = self._waiting.pop(ticket, None)
        if waiting is not None:
            waiting.report = report
            waiting.ready.set()

    def forget(self, ticket: str) -> None:
        """A request that stopped waiting (timed out): no answer is kept for it."""
        with self._lock:
            self._waiting.pop(ticket, None)

    def health(self, sources: dict[str, Any], totals: dict[str, Any]) -> None:
        with self._lock:
            self.event_time = {"sources": sources, **totals}

    def find(self, ref: str) -> IncidentData | None:
        with self._lock:
            if ref in self.incidents:
                return self.incidents[ref]
            ident = self.by_fingerprint.get(ref)
            return self.incidents.get(ident) if ident else None

    def list(self, status: str | None = None) -> list[IncidentData]:
        with self._lock:
            items = list(self.incidents.values())
        if status and status != "all":
            items = [i for i in items if i.get("status") == status]
        elif not status:
            items = [i for i in items if i.get("status") != "resolved"]
        return sorted(items, key=lambda i: (i.get("first_seen", ""), i["id"]))

    def load_log(self, path: Path) -> None:
        if not path.exists():
            return
        with path.open("rb") as f:
            for raw in f:
                try:
                    line = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue  # a torn last line after a crash
                if isinstance(line, dict) and "incident" in line:
                    self.apply(cast(LogLineData, line))  # a line as the log writes it


class _Answer:
    """One waiting request's answer: the control report, once the incident stage applied it."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.report: ReportData | None = None
