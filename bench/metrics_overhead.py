"""What observability costs: the live engine's metered match, and a replay writing a report.

Everything is measured in this run, on this machine, as ratios (the box is shared and noisy).
1. `RunSetup.match` on simulated events decoded as the receivers decode them, bare and wrapped as
   the live engine wraps it (`EngineMetrics.match`: a latency histogram and the usage rollups),
   best of `--rounds` alternating rounds: events/s of each and the ratio.
2. A whole replay of the same history without and with `--report`'s detector series
   (`RecentPoints`), alternating: the time ratio, and the size of the report written.
3. A scrape of `/metrics` at the label bounds (`max_series` label combinations, 5,000 people):
   the time to render it against the time to match one event, and the body's size.
Run: .venv/bin/python bench/metrics_overhead.py [--days 1] [--users 40] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from detectors.recent import RecentPoints
from engine.config import SpanwatchConfig
from engine.flow.run_setup import RunSetup
from engine.metrics.config import MetricsConfig
from engine.metrics.registry import EngineMetrics
from engine.otlp.line_decoder import decode_line
from engine.replay_run import ReplayOptions, run_replay
from engine.report.build import build_report
from replay.simulator.simulate import SimulationSpec, simulate


def events_of(history: Path, setup: RunSetup) -> list[dict]:
    out = []
    with history.open("rb") as f:
        for line in f:
            out.extend(decode_line(line, setup.aliases))
    return out


def time_match(match, events: list[dict]) -> float:
    started = time.perf_counter()
    for event in events:
        match(event)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        history = Path(tmp) / "h.jsonl"
        simulate(SimulationSpec(days=args.days, users=args.users, seed=11), history)
        config = SpanwatchConfig(state_dir=str(Path(tmp) / "state"))
        setup = RunSetup(config, all_shards=True)
        events = events_of(history, setup)
        metered = EngineMetrics(MetricsConfig()).match(setup.match)
        bare_best = metered_best = float("inf")
        for _ in range(args.rounds):
            bare_best = min(bare_best, time_match(setup.match, events))
            metered_best = min(metered_best, time_match(metered, events))
        n = n_events = len(events)
        print(f"match, {n:,} events: bare {n / bare_best:,.0f}/s, metered {n / metered_best:,.0f}/s"
              f" -> metered/bare time {metered_best / bare_best:.2f}x")  # fmt: skip

        plain_best = report_best = float("inf")
        size = 0
        for r in range(args.rounds):
            options = ReplayOptions(paths=[str(history)], out=str(Path(tmp) / f"a{r}.jsonl"))
            started = time.perf_counter()
            run_replay(config, options)
            plain_best = min(plain_best, time.perf_counter() - started)
            recent = RecentPoints()
            log = str(Path(tmp) / f"b{r}.jsonl")
            started = time.perf_counter()
            done = run_replay(config, ReplayOptions(paths=[str(history)], out=log, recent=recent))
            size = len(build_report(done, log, [str(history)], recent).encode())
            report_best = min(report_best, time.perf_counter() - started)
        print(f"replay: plain {plain_best:.1f} s, with --report {report_best:.1f} s -> "
              f"{report_best / plain_best:.2f}x; report {size / 1024:.0f} KiB")  # fmt: skip

        full = EngineMetrics(MetricsConfig())
        assert full.usage is not None
        for n in range(20_000):
            event = dict(events[n % len(events)])
            event.update(user=f"p{n % 5000}", team=f"t{n % 40}", repo=f"r{n % 97}")
            event.update(workflow=f"w{n % 13}", name="claude.invoke", latency_ms=100.0 + n)
            full.usage.observe(event, [])
        render_best = float("inf")
        for _ in range(args.rounds):
            started = time.perf_counter()
            body = full.render()
            render_best = min(render_best, time.perf_counter() - started)
        series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
        print(f"scrape at the bounds: {series:,} samples, {len(body) / 1024:,.0f} KiB, rendered in "
              f"the time of {render_best / (bare_best / n_events):,.0f} matches")  # fmt: skip


if __name__ == "__main__":
    main()
