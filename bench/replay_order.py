"""The same history in two shapes, replayed: Collector-style batches vs one line per agent session.

    python bench/replay_order.py [--days 5] [--users 150] [--seed 7]

The simulator writes what a Collector's file exporter would (requests of records in end-time
order). An export job or a data-lake dump writes one line per agent session instead, sessions
in the order they started, so a line's records trail the line before by minutes or hours. The
incident logs and notifications of both must be byte-identical, and nothing may be late.
Printed: per shape, lines, events, late, incidents and seconds; then whether the outputs match,
and the per-session replay's time as a ratio of the Collector-style one (same run).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from engine.config import SpanwatchConfig
from engine.replay_run import ReplayOptions, run_replay
from replay.simulator.rebatch import by_session, records
from replay.simulator.simulate import SimulationSpec, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--users", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        collector = folder / "collector.jsonl"
        simulate(SimulationSpec(days=args.days, users=args.users, seed=args.seed), collector)
        sessions = folder / "sessions.jsonl"
        lines = by_session(records(collector.read_bytes().splitlines()))
        sessions.write_bytes(b"".join(line + b"\n" for line in lines))
        config = SpanwatchConfig(state_dir=str(folder / "state"))
        outputs, seconds = {}, {}
        for name, path in (("collector", collector), ("sessions", sessions)):
            out, notes = folder / f"{name}.out", folder / f"{name}.notes"
            report = run_replay(
                config,
                ReplayOptions(paths=[str(path)], out=str(out), notifications=str(notes)),
            )
            summary = report.result.summary
            assert summary is not None, "a finished replay has a summary"
            stats = summary.stats
            opened = sum(summary.incidents_opened.values())
            print(
                f"{name:>9}: {stats['lines']:>7,} lines  {stats['events']:>9,} events  "
                f"late {stats['late']:>7,}  incidents opened {opened:>4}  "
                f"{report.seconds:6.1f} s  ({report.sort_runs} sorted run(s))"
            )
            outputs[name] = (out.read_bytes(), notes.read_bytes())
            seconds[name] = report.seconds
        same = outputs["collector"] == outputs["sessions"]
        print(f"incident logs and notifications byte-identical: {same}")
        print(
            f"per-session replay time / Collector-style: {seconds['sessions'] / seconds['collector']:.2f}"
        )
        if not same:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
