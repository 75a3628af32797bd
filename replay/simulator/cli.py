"""`spanwatch simulate`: the function behind the command (its arguments: engine/cli_parser.py)."""

from __future__ import annotations

import sys
from typing import TextIO

from replay.progress import Progress
from replay.simulator.shape import OrgShape
from replay.simulator.simulate import SimulationSpec, SimulationSummary, simulate
from replay.timefmt import iso, parse_time


def simulate_command(
    days: int,
    users: int,
    seed: int,
    start: str | float | None,
    claude_code_logs: bool,
    incidents: bool,
    out: str,
    truth: str | None,
    stdout: TextIO,
    stderr: TextIO | None = None,
    shape: dict[str, str] | None = None,
    kinds: str = "classic",
    quiet: bool = False,
) -> int:
    """Run the simulator and print a short summary; 0 on success, 2 on a bad argument or path.

    `shape`: the `OrgShape` knobs given (spelling, export, zones, traffic, batching).
    """
    stderr = stderr or sys.stderr
    try:
        spec = _spec(days, users, seed, start, claude_code_logs, incidents, shape, kinds)
    except ValueError as exc:
        print(f"spanwatch simulate: {exc}", file=stderr)
        return 2
    try:
        progress = Progress(stderr, enabled=False if quiet else None)
        summary = simulate(spec, out, truth, progress)
    except OSError as exc:
        where = exc.filename or out
        print(f"spanwatch simulate: cannot write {where}: {exc.strerror or exc}", file=stderr)
        return 2
    for line in _summary_lines(spec, summary, out, truth):
        print(line, file=stdout)
    return 0


def _spec(
    days: int,
    users: int,
    seed: int,
    start: str | float | None,
    claude_code_logs: bool,
    incidents: bool,
    shape: dict[str, str] | None,
    kinds: str,
) -> SimulationSpec:
    """The simulation asked for; ValueError for a bad start or shape."""
    return SimulationSpec(
        days=days,
        users=users,
        seed=seed,
        start=SimulationSpec.start if start is None else parse_time(start),
        claude_code_logs=claude_code_logs,
        incidents=incidents,
        shape=OrgShape(**{k: v for k, v in (shape or {}).items() if v is not None}),
        kinds=kinds,
    )


def _summary_lines(
    spec: SimulationSpec, summary: SimulationSummary, out: str, truth: str | None
) -> list[str]:
    """What was written: the range, the shape if not the default, events, incidents, speed."""
    lines = [
        f"simulated {spec.days} day(s) of {spec.users} users (seed {spec.seed}) "
        f"from {iso(summary.start)} to {iso(summary.end)}"
    ]
    if spec.shape != OrgShape():
        knobs = ", ".join(f"{k} {v}" for k, v in vars(spec.shape).items())
        lines.append(f"  shape: {knobs}")
    lines.append(
        f"  {summary.spans:,} spans, {summary.log_records:,} log records "
        f"in {summary.lines:,} lines -> {out}"
    )
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(summary.incidents_by_kind().items()))
    truth_note = f" -> {truth}" if truth else " (no --truth file written)"
    lines.append(
        f"  {len(summary.incidents)} incidents injected{': ' + kinds if kinds else ''}"
        f"{truth_note if summary.incidents else ''}"
    )
    rate = summary.spans / summary.seconds if summary.seconds > 0 else 0.0
    lines.append(f"  took {summary.seconds:.1f} s ({rate:,.0f} spans/s)")
    return lines
