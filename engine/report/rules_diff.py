"""`spanwatch rules diff --base PATH --candidate PATH HISTORY…`: replay the same history with
two rule sets and list the incidents only one of them raises, so a change to the rules is
reviewed by what it does to real history.

Two incidents are the same when they have the same rule or detector, the same group and the
same opening time (event time). Detectors run in both replays: their incidents differ only
where the rules change what they see (storms, noise budgets).

Exit status: 0 when both raise the same incidents, 1 when they differ (as `diff`), 2 for a
bad path, rule or configuration.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from engine.config import SpanwatchConfig
from engine.replay_run import ReplayOptions, run_replay
from engine.report.build import read_log
from engine.report.incident_digest import LoggedIncident, digest, severity_rank
from engine.timeutil import iso
from replay.progress import Progress


@dataclass(frozen=True)
class Identity:
    rule_id: str
    group: tuple[tuple[str, str], ...]
    opened: float


def identity(incident: LoggedIncident) -> Identity:
    return Identity(incident.rule_id, tuple(sorted(incident.group.items())), incident.opened)


def raised(
    config: SpanwatchConfig, rules: str, history: list[str], progress: Progress
) -> list[LoggedIncident]:
    with tempfile.TemporaryDirectory(prefix="spanwatch-rules-diff-") as folder:
        log = str(Path(folder) / "incidents.jsonl")
        run_replay(config, ReplayOptions(paths=history, out=log, rules=[rules], progress=progress))
        return digest(read_log(log))


def rules_diff(
    config: SpanwatchConfig,
    base: str,
    candidate: str,
    history: list[str],
    out: TextIO = sys.stdout,
    progress: Progress | None = None,
) -> int:
    progress = progress or Progress(sys.stderr, enabled=False)
    before = raised(config, base, history, progress)
    after = raised(config, candidate, history, progress)
    before_ids = {identity(i) for i in before}
    after_ids = {identity(i) for i in after}
    only_base = [i for i in before if identity(i) not in after_ids]
    only_candidate = [i for i in after if identity(i) not in before_ids]
    print(
        f"base {base}: {len(before)} incident(s) · candidate {candidate}: {len(after)} "
        f"incident(s) · {len(before) - len(only_base)} in both",
        file=out,
    )
    for title, incidents in (
        ("only with the base", only_base),
        ("only with the candidate", only_candidate),
    ):
        print(f"{title}: {len(incidents)}", file=out)
        for inc in sorted(incidents, key=lambda i: (i.opened, severity_rank(i.severity))):
            group = ", ".join(f"{k}={v}" for k, v in inc.group.items()) or "-"
            print(f"  {iso(inc.opened)}  {inc.severity:<8}  {inc.rule_id}  {group}", file=out)
    return 1 if only_base or only_candidate else 0
