"""Peak memory of a replay whose history is many times larger than the sort's memory budget.

    python bench/replay_memory.py [--budget-mb 16] [--users 150] [--days 2 8 [20 ...]]

Simulates histories of the same organisation, one per length in `--days` (shortest first; e.g.
`--days 8 24 80` for 1x, 3x and 10x), and replays each in a process of its own with
`--sort-memory BUDGET`, reading the process's peak resident memory (ru_maxrss). Then the
longest again with a budget big enough to sort it all in memory, as the baseline of the same
run: with a budget the peak stays flat as the history grows (the dataflow's state is bounded by
the organisation, not by the history's length); without one it grows with the history. Also
printed: the size of the history as the sort holds it (its canonical events), so "several times
the budget" is a measured figure, and each peak as a share of the shortest history's peak.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
from pathlib import Path

from replay.simulator.simulate import DEFAULT_START, SimulationSpec, simulate

WEEK = 7 * 86400.0

MEASURE = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if done.returncode:
    sys.exit(done.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.stdout.splitlines()[0])
"""


def peak_mb(history: Path, out: Path, budget_mb: float, state: Path) -> tuple[float, str]:
    config = state / "spanwatch.yml"
    config.write_text(f"state_dir: {state}\n")
    command = [
        sys.executable,
        "-c",
        MEASURE,
        sys.executable,
        "-m",
        "engine.cli",
        "replay",
        str(history),
        "--config",
        str(config),
        "--out",
        str(out),
        "--sort-memory",
        str(budget_mb),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    kb, summary = done.stdout.split(" ", 1)
    return int(kb) / 1024, summary.strip()


def canonical_mb(history: Path) -> float:
    from engine.config import SpanwatchConfig
    from engine.flow.run_setup import RunSetup
    from engine.history_sort import canonical
    from engine.otlp.line_decoder import decode_line

    aliases = RunSetup(SpanwatchConfig()).aliases
    total = 0
    with history.open("rb") as f:
        for line in f:
            total += sum(len(canonical(e)) + 1 for e in decode_line(line, aliases))
    return total / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget-mb", type=float, default=16.0)
    parser.add_argument("--users", type=int, default=150)
    parser.add_argument("--days", type=int, nargs="+", default=[2, 8], metavar="DAYS")
    args = parser.parse_args()
    if len(args.days) < 2:
        parser.error("--days needs at least two lengths, shortest first")
    lengths = sorted(set(args.days))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = []
        histories = {}
        # Every history starts on the same Monday, early enough for the longest to end at the
        # simulator's usual start: events after this machine's clock would be refused
        # (`stream.max_future`), so a long history must lie in the past.
        start = DEFAULT_START - math.ceil(lengths[-1] / 7) * WEEK
        for days in lengths:
            path = folder / f"history-{days}d.jsonl"
            simulate(SimulationSpec(days=days, users=args.users, seed=11, start=start), path)
            histories[days] = path
        for days in lengths:
            size = canonical_mb(histories[days])
            peak, summary = peak_mb(histories[days], folder / "out.jsonl", args.budget_mb, folder)
            rows.append((days, size, args.budget_mb, peak, summary))
        long_days = lengths[-1]
        size = canonical_mb(histories[long_days])
        peak, summary = peak_mb(histories[long_days], folder / "out.jsonl", 4 * size + 64, folder)
        rows.append((long_days, size, 4 * size + 64, peak, summary))
        header = f"{'days':>4} {'history (canonical)':>20} {'sort budget':>12} {'peak RSS':>10}"
        print(f"{header} {'of shortest':>12}")
        shortest = rows[0][3]
        for days, size, budget, peak, summary in rows:
            print(
                f"{days:>4} {size:>17.0f} MB {budget:>9.0f} MB {peak:>7.0f} MB "
                f"{peak / shortest:>11.2f}x   {summary}"
            )
        longest = rows[len(lengths) - 1]
        print(
            f"longest history / budget: {longest[1] / args.budget_mb:.1f}x; peak RSS longest / "
            f"shortest with the budget: {longest[3] / shortest:.2f}; in-memory sort / budgeted, "
            f"longest history: {rows[-1][3] / longest[3]:.2f}"
        )


if __name__ == "__main__":
    main()
