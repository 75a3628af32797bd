"""How fast the simulator makes history, against merely encoding the same output (same run).

    .venv/bin/python bench/simulate_speed.py                 # a week of 500 people (the target)
    .venv/bin/python bench/simulate_speed.py --days 1 --users 20 --gz --logs

Prints spans per second, the time a week of 500 people takes (measured, or extrapolated from a
smaller run), and the ratio of simulation time to the bare cost of JSON-encoding its own output:
the baseline, so that the number means the same on a faster or slower machine.
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path

import orjson

from replay.simulator.simulate import SimulationSpec, simulate

TARGET_SECONDS = 60.0  # a week of a 500-person organisation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--logs", action="store_true", help="also Claude Code log events")
    parser.add_argument("--gz", action="store_true", help="write gzip")
    args = parser.parse_args()
    spec = SimulationSpec(
        days=args.days, users=args.users, seed=args.seed, claude_code_logs=args.logs
    )
    with tempfile.TemporaryDirectory(prefix="spanwatch-bench-") as tmp:
        out = Path(tmp) / ("history.jsonl.gz" if args.gz else "history.jsonl")
        began = time.perf_counter()
        summary = simulate(spec, out, Path(tmp) / "truth.jsonl")
        simulate_s = time.perf_counter() - began
        raw = gzip.decompress(out.read_bytes()) if args.gz else out.read_bytes()
        messages = [orjson.loads(line) for line in raw.splitlines()]
        began = time.perf_counter()
        encoded = sum(len(orjson.dumps(m)) for m in messages)
        encode_s = time.perf_counter() - began

    records = summary.spans + summary.log_records
    week_500 = simulate_s * (7 / spec.days) * (500 / spec.users)
    print(f"simulated {spec.days} day(s) x {spec.users} users: {summary.spans:,} spans, "
          f"{summary.log_records:,} log records, {len(raw) / 1e6:,.0f} MB in {simulate_s:.2f} s")  # fmt: skip
    print(f"  simulator      {summary.spans / simulate_s:>12,.0f} spans/s  "
          f"{records / simulate_s:>12,.0f} records/s  {len(raw) / 1e6 / simulate_s:8.1f} MB/s")  # fmt: skip
    print(f"  encode only    {summary.spans / encode_s:>12,.0f} spans/s  "
          f"{records / encode_s:>12,.0f} records/s  {encoded / 1e6 / encode_s:8.1f} MB/s")  # fmt: skip
    print(f"  ratio          simulation takes {simulate_s / encode_s:.1f}x the bare encoding time")
    verdict = "meets" if week_500 < TARGET_SECONDS else "MISSES"
    how = "measured" if (spec.days, spec.users) == (7, 500) else "extrapolated linearly"
    print(
        f"  a week of 500 people: {week_500:.1f} s ({how}); {verdict} the {TARGET_SECONDS:.0f} s target"
    )


if __name__ == "__main__":
    main()
