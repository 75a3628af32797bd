"""`spanwatch replay`: history through the same dataflow as the live engine."""

from __future__ import annotations

import gc
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

import orjson
from bytewax.run import cli_main

from detectors.recent import RecentPoints
from engine.config import SpanwatchConfig
from engine.first_pass_shares import sort_in_shares
from engine.flow.dataflow import build_dataflow
from engine.flow.items import RunStats, Summary
from engine.flow.local_cluster import ClusterError, run_cluster
from engine.flow.quarantine import EXAMPLES
from engine.flow.replay_process import ReplayProcess
from engine.flow.replay_source import SortedHistorySource, partition_names, split_history
from engine.flow.run_setup import EventTimeRange, RunSetup
from engine.flow.sinks import ResultSink, RunResult
from engine.history_sort import CONTROL, HistoryPart, StrictStop, sort_history
from engine.incidents.model import ReportData
from engine.state_dir import prepare_state_dir
from notifiers.model import Notification
from replay.external_sort import ExternalSort, SpillError
from replay.progress import Progress
from replay.readers import HistoryError, HistoryFile, expand_paths, stored_size

EPOCH = timedelta(milliseconds=3000)  # wall-clock epochs: short, since replay keeps no snapshots
# A cluster's stages wait on one another across processes at every epoch's end: shorter epochs
# keep the processes busy together (0.2 s ran a small replay in 0.7 of the time 3 s took).
CLUSTER_EPOCH = timedelta(milliseconds=200)
MB = 1 << 20
# Events read from every part of the history to weigh the shards before they are placed on the
# workers (`RunSetup.spread_over`): enough to tell a detector that observes every event from
# one that observes a kind in ten, few enough to cost a few hundredths of a second.
PLACEMENT_SAMPLE = 500


@contextmanager
def quiet_gc() -> Iterator[None]:
    """Replays allocate millions of short-lived dicts; full collections would scan them all."""
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1_000)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


class ReplayError(Exception):
    """A replay that cannot start or was stopped: one line for the user, exit status 2."""


@dataclass
class ReplayOptions:
    paths: list[str]
    out: str | None = None
    rules: list[str] | None = None
    control: str | None = None
    time_range: EventTimeRange = field(default_factory=EventTimeRange)
    strict: bool = False
    workers: int = 1  # Bytewax workers in each process
    processes: int = 1  # a Bytewax cluster of this many local processes (engine.flow.local_cluster)
    notifications: str | None = None  # write what would be sent, one line per notification
    sort_memory_mb: float | None = None  # overrides replay.sort_memory_mb
    progress: Progress | None = None  # a progress line on a terminal
    recent: RecentPoints | None = None  # detector series around alerts, for a report


@dataclass
class ReplayReport:
    result: RunResult
    seconds: float
    files: int
    out: str | None
    sort_runs: int = 0
    span: tuple[float, float] | None = None  # first and last event time replayed (with recent)
    setup: RunSetup | None = None
    quarantined: int = 0  # items a stage failed on, put aside
    quarantine_examples: list[str] = field(default_factory=list)
    process_cpu: list[float] = field(default_factory=list)  # CPU seconds of each cluster process
    sort_cpu: list[float] = field(default_factory=list)  # CPU seconds of each first-pass fork


def _parts(options: ReplayOptions) -> list[HistoryPart]:
    try:
        files = expand_paths(options.paths)
        control: list[HistoryFile] = expand_paths([options.control]) if options.control else []
    except HistoryError as exc:
        raise ReplayError(str(exc)) from None
    if not files:
        raise ReplayError("no history files found in " + ", ".join(options.paths))
    return [HistoryPart(f) for f in files] + [HistoryPart(f, is_control=True) for f in control]


@contextmanager
def _spill_dir(config: SpanwatchConfig) -> Iterator[Path]:
    """A private folder for the sort's runs (under `replay.spill_dir`, or the state directory,
    checked as the live engine checks it)."""
    if config.replay.spill_dir is None:
        parent = prepare_state_dir(config)
    else:
        parent = Path(config.replay.spill_dir)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="replay-sort-", dir=parent))
    except OSError as exc:
        raise ReplayError(
            f"cannot make a folder for the sort in {parent}: {exc.strerror}"
        ) from None
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_replay(
    config: SpanwatchConfig,
    options: ReplayOptions,
    notify: Callable[[Notification], None] | None = None,
    setup: RunSetup | None = None,
) -> ReplayReport:
    """Replay history; raises ReplayError for bad paths, a failing disk and `--strict` failures.

    First the whole history is read, checked and sorted by event time (`sort_history`), then
    the dataflow reads it in that order. What a stage fails on is quarantined (kept in memory,
    not written) and reported with the bad lines.
    """
    parts = _parts(options)
    setup = _prepared(config, options, setup)
    if options.out:
        Path(options.out).parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    run = _Run(RunResult(), [], RunStats(), 0, [], [])
    source = _replay(config, options, parts, setup, run, notify)
    if source.error.reason is not None:
        raise ReplayError(source.error.reason)
    seconds = time.perf_counter() - started
    result = run.result
    if result.summary is not None:
        stats = RunStats(**result.summary.stats)
        stats.merge(run.read)
        result.summary.stats = vars(stats)
    return ReplayReport(
        result,
        seconds,
        sum(not p.is_control for p in parts),
        options.out,
        sort_runs=run.sort_runs,
        span=(run.span[0], run.span[-1]) if run.span else None,
        setup=setup,
        quarantined=setup.quarantine.total,
        quarantine_examples=[q.describe() for q in setup.quarantine.examples],
        process_cpu=run.cpu,
        sort_cpu=run.sort_cpu,
    )


@dataclass
class _Run:
    """What a replay gathers on its way: results, first and last times, the first pass's
    counters, how many sorted runs it spilled, each cluster process's and first-pass fork's CPU
    seconds."""

    result: RunResult
    span: list[float]
    read: RunStats
    sort_runs: int
    cpu: list[float]
    sort_cpu: list[float]


def _replay(
    config: SpanwatchConfig,
    options: ReplayOptions,
    parts: list[HistoryPart],
    setup: RunSetup,
    run: _Run,
    notify: Callable[[Notification], None] | None,
) -> SortedHistorySource:
    """Sort the history, then run the dataflow over it, here or on a cluster."""
    budget = int((options.sort_memory_mb or config.replay.sort_memory_mb) * MB)
    progress = options.progress or Progress(sys.stderr, enabled=False)
    with ExitStack() as stack:
        stack.enter_context(quiet_gc())
        spill = stack.enter_context(_spill_dir(config))
        sorter = stack.enter_context(ExternalSort(spill, budget))
        _first_pass(parts, setup, sorter, options, progress, run, spill)
        progress.stage("replaying", sorter.records, "events")
        span = run.span if options.recent is not None else None
        merged = _counted(sorter.merged(), progress, span)
        source, files = _partitioned(merged, options, spill, setup, sorter.records)
        if options.processes > 1:
            progress.close()
            run.cpu = _run_cluster(options, setup, files, spill, run.result, source, notify)
        else:
            _run_here(options, setup, source, run.result, notify, progress)
        run.sort_runs += sorter.runs_written
    return source


def _prepared(config: SpanwatchConfig, options: ReplayOptions, setup: RunSetup | None) -> RunSetup:
    """The run's setup (the caller's, or loaded now), with the report's recorder if asked."""
    if options.processes > 1 and options.recent is not None:
        raise ReplayError("--report needs one process: leave out --processes")
    if setup is None:
        setup = RunSetup(config, rules=options.rules, time_range=options.time_range)
    if options.recent is not None:
        setup.detectors.recent = options.recent
    return setup


def _first_pass(
    parts: list[HistoryPart],
    setup: RunSetup,
    sorter: ExternalSort,
    options: ReplayOptions,
    progress: Progress,
    run: _Run,
    spill: Path,
) -> None:
    """Every file read, checked and sorted: here, or shared by the cluster's number of forks
    (`engine.first_pass_shares`; `--strict` reads alone, to stop at the first bad line)."""
    if options.processes == 1 or options.strict:
        run.read = _sorted(parts, setup, sorter, options.strict, progress)
        return
    progress.stage(f"reading {len(parts)} file(s) on {options.processes} processes", None, "bytes")
    try:
        shared = sort_in_shares(parts, setup, sorter, options.processes, spill)
    except ClusterError as exc:
        raise ReplayError(str(exc)) from None
    finally:
        progress.close()
    run.read, run.sort_runs, run.sort_cpu = shared.stats, shared.runs_written, shared.cpu


def _sorted(
    parts: list[HistoryPart],
    setup: RunSetup,
    sorter: ExternalSort,
    strict: bool,
    progress: Progress,
) -> RunStats:
    """The first pass: every file read, checked and sorted; its counters."""
    sizes = [stored_size(p.file) for p in parts]
    total = None if None in sizes else sum(s or 0 for s in sizes)
    progress.stage(f"reading {len(parts)} file(s)", total, "bytes")
    try:
        return sort_history(
            parts,
            setup,
            sorter,
            strict=strict,
            progress=lambda done, events: progress.update(done, events),
        )
    except StrictStop as exc:
        raise ReplayError(f"--strict: {exc}") from None
    except SpillError as exc:
        raise ReplayError(str(exc)) from None
    finally:
        progress.close()


def _partitioned(
    merged: Iterator[tuple[float, bytes]],
    options: ReplayOptions,
    spill: Path,
    setup: RunSetup,
    records: int,
) -> tuple[SortedHistorySource, list[Path]]:
    """The sorted history as the dataflow's source: read as it merges (one worker), or cut
    into one partition file per worker, the shards placed on the workers by a sample of it."""
    workers = options.workers * options.processes
    if workers == 1:
        return SortedHistorySource(merged), []
    files = [spill / f"partition-{i:04d}.bin" for i in range(workers)]
    sample: list[bytes] = []
    try:
        split_history(_sampled(merged, max(1, records // PLACEMENT_SAMPLE), sample), files)
    except SpillError as exc:
        raise ReplayError(str(exc)) from None
    setup.spread_over(workers, [orjson.loads(r[1:]) for r in sample if r[:1] != CONTROL])
    return SortedHistorySource(parts=files), files


def _run_here(
    options: ReplayOptions,
    setup: RunSetup,
    source: SortedHistorySource,
    result: RunResult,
    notify: Callable[[Notification], None] | None,
    progress: Progress,
) -> None:
    """The dataflow in this process, on `options.workers` workers."""
    sink = ResultSink(options.out, result, notify, options.notifications)
    flow = build_dataflow(setup, source, partition_names(options.workers), sink)
    try:
        cli_main(flow, workers_per_process=options.workers, epoch_interval=EPOCH)
    finally:
        progress.close()


def _run_cluster(
    options: ReplayOptions,
    setup: RunSetup,
    files: list[Path],
    spill: Path,
    result: RunResult,
    source: SortedHistorySource,
    notify: Callable[[Notification], None] | None,
) -> list[float]:
    """The dataflow on a cluster of local processes; the CPU seconds each of them spent."""

    def body(addresses: list[str]) -> ReplayProcess:
        return ReplayProcess(
            setup,
            files,
            addresses,
            options.workers,
            CLUSTER_EPOCH,
            options.out,
            options.notifications,
            collect_notifications=notify is not None,
        )

    try:
        outcomes = run_cluster(options.processes, spill, body)
    except ClusterError as exc:
        raise ReplayError(str(exc)) from None
    _gather(outcomes, result, setup, source, notify)
    return [outcome["cpu"] for outcome in outcomes]


def _gather(
    outcomes: list[dict[str, Any]],
    result: RunResult,
    setup: RunSetup,
    source: SortedHistorySource,
    notify: Callable[[Notification], None] | None,
) -> None:
    """The cluster's results into this process: the writer's result and notifications (handed
    to `notify` in their order), every process's quarantine, the first source failure."""
    written: RunResult = outcomes[0]["result"]
    result.log_lines = written.log_lines
    result.reports = written.reports
    result.summary = written.summary
    result.notification_count = written.notification_count
    if notify is not None:
        for notification in outcomes[0]["notifications"]:
            notify(notification)
    quarantine = setup.quarantine
    for outcome in outcomes:
        counts, examples = outcome["quarantine"]
        quarantine.counts.update(counts)
        room = EXAMPLES - len(quarantine.examples)
        quarantine.examples.extend(examples[: max(room, 0)])
        if source.error.reason is None and outcome["error"] is not None:
            source.error.reason = outcome["error"]


def _sampled(
    records: Iterator[tuple[float, bytes]], every: int, sample: list[bytes]
) -> Iterator[tuple[float, bytes]]:
    """The records, keeping every `every`-th one in `sample`."""
    for n, record in enumerate(records):
        if n % every == 0:
            sample.append(record[1])
        yield record


def _counted(
    records: Iterator[tuple[float, bytes]], progress: Progress, span: list[float] | None
) -> Iterator[tuple[float, bytes]]:
    """The sorted records, telling `progress` how many went into the dataflow, and noting the
    first and last event time in `span` (control events included)."""
    if not progress.enabled and span is None:
        yield from records
        return
    n = 0
    record = None
    for n, record in enumerate(records, 1):
        if n == 1 and span is not None:
            span.append(record[0])
        if not n & 1023:
            progress.update(n, n)
        yield record
    if span is not None and record is not None:
        span.append(record[0])
    progress.update(n, n, force=True)


ROUTINE_COUNTERS = (" observations", " points", " windows")


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _control_line(report: ReportData) -> str:
    """`2025-11-28T08:01:40Z ack inc-1: not_found (ack for unknown incident inc-1)`."""
    line = f"{report.get('at') or '-'} {report['kind']} {report['target']}: {report['outcome']}"
    return f"{line} ({report['message']})" if report.get("message") else line


def print_summary(report: ReplayReport, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> None:
    summary: Summary | None = report.result.summary
    stats = summary.stats if summary else {}
    _print_problems(report, stats, err)
    _print_counts(report, stats, out)
    if summary is None:
        return
    _print_incidents_opened(summary.incidents_opened, out)
    if summary.transitions:
        parts = ", ".join(
            f"{k.removeprefix('incident.')} {v}" for k, v in sorted(summary.transitions.items())
        )
        print(f"  transitions: {parts}", file=out)
    for key, value in sorted(summary.shard_stats.items()):
        if not key.endswith(ROUTINE_COUNTERS):
            print(f"  {key}: {value}", file=out)
    if report.out:
        print(f"  incident log: {report.out} ({report.result.log_lines} lines)", file=out)
    if report.result.notification_count:
        print(f"  notifications: {report.result.notification_count}", file=out)


def _print_problems(report: ReplayReport, stats: dict[str, Any], err: TextIO) -> None:
    """Bad and quarantined lines (the first few, then how many more) and control reports."""
    for line in stats.get("bad_examples", []):
        print(f"bad line: {line}", file=err)
    bad = stats.get("bad_lines", 0)
    if bad > len(stats.get("bad_examples", [])):
        print(f"bad line: … and {bad - len(stats['bad_examples'])} more", file=err)
    for line in report.quarantine_examples:
        print(f"quarantined: {line}", file=err)
    if report.quarantined > len(report.quarantine_examples):
        more = report.quarantined - len(report.quarantine_examples)
        print(f"quarantined: … and {more} more", file=err)
    for rep in report.result.reports:
        print(f"control: {_control_line(rep.to_dict())}", file=err)


def _print_counts(report: ReplayReport, stats: dict[str, Any], out: TextIO) -> None:
    """Events replayed and how fast, then what happened to the lines read."""
    events = stats.get("events", 0)
    rate = events / report.seconds if report.seconds > 0 else 0.0
    print(
        f"replayed {report.files} file(s): {_n(events)} events in {report.seconds:.1f} s "
        f"({_n(rate)} events/s)",
        file=out,
    )
    print(
        f"  lines {_n(stats.get('lines', 0))} · bad lines {_n(stats.get('bad_lines', 0))}"
        f" · late {_n(stats.get('late', 0))}"
        f" · outside --from/--to {_n(stats.get('outside_range', 0))}"
        f" · control events {_n(stats.get('control_events', 0))}"
        f" · duplicates {_n(stats.get('duplicates', 0))}"
        f" · quarantined {_n(report.quarantined)}",
        file=out,
    )


_SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


def _print_incidents_opened(opened: Mapping[tuple[str, str], int], out: TextIO) -> None:
    """Incidents opened, as a table by severity (most severe first), then rule."""
    print(f"  incidents opened: {sum(opened.values())}", file=out)
    if not opened:
        return
    width = max(len(rule) for rule, _sev in opened)
    print(f"    {'rule or detector':<{width}}  {'severity':<8}  opened", file=out)

    def rank(item: tuple[tuple[str, str], int]) -> tuple[int, str]:
        (rule, sev), _count = item
        return (_SEVERITY_ORDER.index(sev) if sev in _SEVERITY_ORDER else 9, rule)

    for (rule, sev), count in sorted(opened.items(), key=rank):
        print(f"    {rule:<{width}}  {sev:<8}  {count}", file=out)
