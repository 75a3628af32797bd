"""Memory per key of the seasonal detector, and whether a million keys fit in 2 GiB.

Run: .venv/bin/python bench/detector_memory.py [--keys N]
Builds one DetectorState of the first default per-user seasonal detector (tokens per user) with N keys, each with
a learned window (so its profile array exists), and measures the resident set size growth
(from /proc/self/statm) and the pickled size (what a Bytewax snapshot stores).
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import time

from detectors.config import DetectorsConfig
from detectors.detectorset import DetectorSet, DetectorState
from detectors.model import Observation

MONDAY = 1793577600.0
GIB = 1024**3


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    args = parser.parse_args()
    cfg = DetectorsConfig()
    spec = next(d for d in cfg.detectors if d.kind == "seasonal" and d.group_by == ["user"])
    spec = spec.model_copy(update={"max_keys": args.keys})
    state = DetectorSet([spec]).new_state(spec.id)
    assert isinstance(state, DetectorState), "a seasonal detector keeps per-key models"
    gc.collect()
    before = rss()
    start = time.perf_counter()
    for i in range(args.keys):
        state.update(Observation(spec.id, MONDAY + 1.0, (f"user-{i:07d}",), 0.25))
    state.advance(MONDAY + spec.interval)
    elapsed = time.perf_counter() - start
    gc.collect()
    grown = rss() - before
    per_key = grown / args.keys
    snapshot = len(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
    print(f"keys                 {len(state.keys):,} (points learned: {state.stats['points']:,})")
    print(f"build time           {elapsed:.1f} s")
    print(f"RSS growth           {grown / GIB:.3f} GiB = {per_key:,.0f} bytes per key")
    print(f"pickled snapshot     {snapshot / GIB:.3f} GiB = {snapshot / args.keys:,.0f} bytes/key")
    projected = per_key * 1_000_000 / GIB
    verdict = "fits" if projected < 2.0 else "DOES NOT FIT"
    print(f"1,000,000 keys       {projected:.2f} GiB -> {verdict} in 2 GiB")


if __name__ == "__main__":
    main()
