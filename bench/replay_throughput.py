"""Replay throughput: the whole pipeline next to merely JSON-decoding the same lines.

Both are measured in this run, on this machine, so the ratio holds on a noisy box; each is
timed in wall time and in this process's CPU time (on a box shared with other work, the CPU
ratio is the steadier one):
    python bench/replay_throughput.py [--days 1] [--users 100] [--workers 1] [--processes N]
Target: the whole replay (read, sort, dataflow) at 30% or more of the decode-only rate, with
the default rules and detectors on one core (the goal is 50%).

With `--processes N` (N > 1) it also replays the same history as a Bytewax cluster of N local
processes of one worker each, and with N workers in one process, and prints each rate beside
the one-process rate of the same round (target: two processes at 1.7x one process).
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path

import orjson

from engine.config import SpanwatchConfig
from engine.replay_run import ReplayOptions, run_replay
from replay.simulator.simulate import SimulationSpec, simulate


def decode_only(path: Path) -> tuple[int, float, float]:
    """Read and orjson-decode every line: the floor any pipeline pays (count, wall, CPU)."""
    started, cpu = time.perf_counter(), time.process_time()
    spans = 0
    with path.open("rb") as f:
        for line in f:
            obj = orjson.loads(line)
            for rs in obj.get("resourceSpans", ()):
                for ss in rs.get("scopeSpans", ()):
                    spans += len(ss.get("spans", ()))
            for rl in obj.get("resourceLogs", ()):
                for sl in rl.get("scopeLogs", ()):
                    spans += len(sl.get("logRecords", ()))
    return spans, time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.processes > 1:
        scale_out(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        packed = Path(tmp) / "history.jsonl.gz"
        simulate(SimulationSpec(days=args.days, users=args.users, seed=3), packed)
        plain = Path(tmp) / "history.jsonl"
        plain.write_bytes(gzip.decompress(packed.read_bytes()))
        config = SpanwatchConfig(state_dir=str(Path(tmp) / "state"))
        base_rates, pipe_rates, cpu_ratios = [], [], []
        for _ in range(args.rounds):
            events, seconds, base_cpu = decode_only(plain)
            base_rates.append(events / seconds)
            cpu = time.process_time()
            report = run_replay(
                config,
                ReplayOptions(
                    paths=[str(plain)], out=str(Path(tmp) / "out.jsonl"), workers=args.workers
                ),
            )
            pipe_cpu = time.process_time() - cpu
            summary = report.result.summary
            assert summary is not None, "a finished replay has a summary"
            pipe_rates.append(summary.stats["events"] / report.seconds)
            cpu_ratios.append(base_cpu / pipe_cpu)
        base, pipe = (
            sorted(base_rates)[len(base_rates) // 2],
            sorted(pipe_rates)[len(pipe_rates) // 2],
        )
        print(f"events: {events:,} ({plain.stat().st_size / 1e6:.1f} MB of OTLP/JSON)")
        print(f"decode-only (orjson):         {base:12,.0f} events/s")
        print(f"pipeline ({args.workers} worker(s)):        {pipe:12,.0f} events/s")
        print(f"pipeline / decode-only:       {pipe / base:12.1%}   (target >= 30%, goal 50%)")
        cpu_ratio = sorted(cpu_ratios)[len(cpu_ratios) // 2]
        print(f"same, in CPU time:            {cpu_ratio:12.1%}")


def _rate(
    config: SpanwatchConfig, history: Path, out: Path, processes: int, workers: int
) -> tuple[float, float]:
    """Events per second of wall time, and per CPU second on the critical path: this process
    (merging the sorted runs, cutting the partitions), the busiest fork of the first pass, and
    the busiest process of the cluster."""
    cpu = time.process_time()
    report = run_replay(
        config,
        ReplayOptions(paths=[str(history)], out=str(out), processes=processes, workers=workers),
    )
    critical = (
        time.process_time()
        - cpu
        + max(report.sort_cpu, default=0.0)
        + max(report.process_cpu, default=0.0)
    )
    summary = report.result.summary
    assert summary is not None, "a finished replay has a summary"
    events = summary.stats["events"]
    return events / report.seconds, events / critical


def scale_out(args: argparse.Namespace) -> None:
    """One process, N workers in one process, N processes: rates of each round side by side,
    the medians of their ratios to one process, and whether the incident logs are identical."""
    n = args.processes
    with tempfile.TemporaryDirectory() as tmp:
        history = Path(tmp) / "history.jsonl.gz"
        simulate(SimulationSpec(days=args.days, users=args.users, seed=3), history)
        config = SpanwatchConfig(state_dir=str(Path(tmp) / "state"))
        runs = {"1 process": (1, 1), f"{n} workers": (1, n), f"{n} processes": (n, 1)}
        ratios: dict[str, list[float]] = {name: [] for name in runs}
        cpu_ratios: dict[str, list[float]] = {name: [] for name in runs}
        logs: dict[str, bytes] = {}
        for round_no in range(args.rounds):
            rates, cpu_rates = {}, {}
            for name, (processes, workers) in runs.items():
                out = Path(tmp) / f"{processes}x{workers}.jsonl"
                rates[name], cpu_rates[name] = _rate(config, history, out, processes, workers)
                logs[name] = out.read_bytes()
            for name, rate in rates.items():
                ratios[name].append(rate / rates["1 process"])
                cpu_ratios[name].append(cpu_rates[name] / cpu_rates["1 process"])
            print(
                f"round {round_no + 1}: "
                + " · ".join(f"{name} {rate:,.0f} events/s" for name, rate in rates.items())
            )
        for name, values in ratios.items():
            cpu = sorted(cpu_ratios[name])[len(values) // 2]
            print(
                f"{name + ':':<16} {sorted(values)[len(values) // 2]:6.2f}x one process"
                f"  (CPU on the critical path: {cpu:.2f}x)"
            )
        print(f"target: {n} processes at 1.7x or more (two processes)")
        same = all(log == logs["1 process"] for log in logs.values())
        print(f"incident logs byte-identical: {same}")


if __name__ == "__main__":
    main()
