"""`spanwatch replay --report FILE [--truth FILE]`: the replay's incident log, its detector
series and, given the truth, what was injected, into the report's HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from detectors.recent import RecentPoints
from engine.replay_run import ReplayReport
from engine.report.incident_digest import digest, findings
from engine.report.page import ReportInput, render
from engine.report.truth import score


def read_log(path: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in Path(path).read_bytes().splitlines() if line.strip()]


def build_report(
    report: ReplayReport,
    log_path: str,
    history: list[str],
    recent: RecentPoints,
    truth: list[dict[str, Any]] | None = None,
) -> str:
    lines = read_log(log_path)
    setup = report.setup
    group_by = {}
    if setup is not None:
        group_by = {d: setup.detectors.compiled(d).group_by for d in setup.detectors.detector_ids}
    summary = report.result.summary
    opened = [line for line in lines if line.get("type") == "incident.opened"]
    recorded = [line for line in lines if line.get("type") == "finding.recorded"]
    return render(
        ReportInput(
            history=history,
            span=report.span,
            events=(summary.stats.get("events", 0) if summary else 0),
            incidents=digest(lines),
            series=recent.series(),
            group_by=group_by,
            truth=score(truth, history, opened, recorded) if truth is not None else None,
            dropped_series=recent.dropped_alerts,
            findings=findings(lines),
        )
    )
