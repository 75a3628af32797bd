"""`spanwatch replay` as a command: arguments checked, outputs whole or absent, an exit status.

Exit status: 0 history was replayed; 1 nothing was replayed (no events in the history, or none
between `--from` and `--to`), and no output is written; 2 a usage error, a bad path or rule,
or a bad line with `--strict`, and no output is written either.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from detectors.recent import RecentPoints
from engine.atomic_output import OutputError, discard, written_whole
from engine.config import SpanwatchConfig
from engine.flow.run_setup import EventTimeRange
from engine.replay_run import ReplayError, ReplayOptions, ReplayReport, print_summary, run_replay
from engine.report.truth import TruthError, read_truth
from replay.progress import Progress

EXIT_NOTHING_REPLAYED = 1


def nothing_replayed(report: ReplayReport) -> str | None:
    """Why a replay replayed no event, or None when it replayed some."""
    summary = report.result.summary
    stats = summary.stats if summary else {}
    if stats.get("events", 0):
        return None
    lines, bad = stats.get("lines", 0), stats.get("bad_lines", 0)
    outside = stats.get("outside_range", 0)
    if outside:
        return f"the {outside:,} event(s) read are all outside --from/--to"
    if lines and bad >= lines:
        return f"the {lines:,} line(s) read are all bad"
    return f"the history holds no events ({report.files} file(s), {lines:,} lines)"


def replay(args: argparse.Namespace, config: SpanwatchConfig) -> int:
    out = args.out or str(Path(config.state_dir) / "replay-incidents.jsonl")
    truth = _truth(args)
    recent = RecentPoints() if args.report else None
    try:
        with written_whole([out, args.notifications, args.report]) as partial:
            report = _run(config, _options(args, partial, recent), notify=args.notify)
            why = nothing_replayed(report)
            report.out = None if why else out
            print_summary(report)
            if why is not None:
                discard(partial)
                print(f"spanwatch: nothing replayed: {why}; no output written", file=sys.stderr)
                return EXIT_NOTHING_REPLAYED
            if recent is not None and partial[2] is not None and partial[0] is not None:
                _write_report(args, report, partial[0], partial[2], recent, truth)
    except OutputError as exc:
        raise ReplayError(str(exc)) from None
    return 0


def _truth(args: argparse.Namespace) -> list[dict[str, Any]] | None:
    """The labelled incidents of `--truth`, read before anything runs."""
    if args.truth and not args.report:
        raise ReplayError("--truth FILE goes with --report FILE (the report shows the comparison)")
    try:
        return read_truth(args.truth) if args.truth else None
    except TruthError as exc:
        raise ReplayError(str(exc)) from None


def _options(
    args: argparse.Namespace, partial: list[str | None], recent: RecentPoints | None
) -> ReplayOptions:
    """The command line as replay options, writing to the outputs' partial files."""
    return ReplayOptions(
        paths=args.paths,
        out=partial[0],
        rules=args.rules,
        control=args.control,
        time_range=EventTimeRange(args.time_from, args.time_to),
        strict=args.strict,
        workers=args.workers,
        processes=args.processes,
        notifications=partial[1],
        sort_memory_mb=args.sort_memory,
        progress=Progress(sys.stderr, enabled=False if args.quiet else None),
        recent=recent,
    )


def _write_report(
    args: argparse.Namespace,
    report: ReplayReport,
    incidents: str,
    partial_report: str,
    recent: RecentPoints,
    truth: list[dict[str, Any]] | None,
) -> None:
    """The HTML report of `--report`, from the incidents written and the points seen."""
    from engine.report.build import build_report

    html = build_report(report, incidents, args.paths, recent, truth)
    try:
        Path(partial_report).write_text(html, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {args.report}: {exc.strerror}") from None
    print(f"  report: {args.report}", file=sys.stdout)


def _run(config: SpanwatchConfig, options: ReplayOptions, *, notify: bool) -> ReplayReport:
    """The replay, delivering its notifications too with `--notify`."""
    if not notify:
        return run_replay(config, options)
    from notifiers.dispatcher import Dispatcher

    dispatcher = Dispatcher(config.notifiers, config.state_dir)
    dispatcher.start()
    try:
        return run_replay(config, options, notify=dispatcher.submit)
    finally:
        dispatcher.close()
