"""Updates per second of each detector type, next to a loop that only reads the same points.

Run: .venv/bin/python bench/detector_throughput.py [--points N]
Each estimator does score_one + learn_one per point (what a closed window costs per key);
"state" rows go through DetectorState.update (one event) and advance (window close).
The ratio is detector time / baseline time, measured in this run on this machine.
"""

from __future__ import annotations

import argparse
import random
import time

from detectors.absence import Absence
from detectors.budget import BudgetBurn, BudgetParams
from detectors.changepoint import ChangePoint
from detectors.config import DetectorsConfig
from detectors.detectorset import DetectorSet
from detectors.ewma import EwmaChart
from detectors.halfspace import HalfSpaceScorer
from detectors.model import Observation
from detectors.new_value import NewValue
from detectors.seasonal import SeasonalBaseline

MONDAY = 1793577600.0


def points(n: int) -> list[tuple[float, float]]:
    rng = random.Random(1)
    return [(MONDAY + i * 300.0, abs(rng.gauss(100.0, 15.0))) for i in range(n)]


def baseline(pts) -> float:
    start = time.perf_counter()
    acc = 0.0
    for t, x in pts:
        acc += x + t
    return time.perf_counter() - start


def run_estimator(model, pts, convert=lambda x: x) -> float:
    values = [(t, convert(x)) for t, x in pts]
    start = time.perf_counter()
    for t, x in values:
        model.score_one(x, t)
        model.learn_one(x, t)
    return time.perf_counter() - start


def run_state(pts, users: int) -> float:
    ds = DetectorSet.from_config(DetectorsConfig())
    state = ds.new_state("invocations-per-user")
    # One event per second: each 5-minute window holds 300 events over `users` keys,
    # so the row includes the amortised cost of closing windows (every known key).
    obs = [
        Observation(
            "invocations-per-user", MONDAY + i, (f"u{i % users}",), None, {"parent": ("t",)}
        )
        for i in range(len(pts))
    ]
    start = time.perf_counter()
    for o in obs:
        state.update(o)
        state.advance(o.time - 600.0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=50_000)
    args = parser.parse_args()
    pts = points(args.points)
    base = min(baseline(pts) for _ in range(3))
    rows = [("baseline (read only)", base)]
    cases = {
        "seasonal": (SeasonalBaseline, lambda x: x),
        "ewma": (EwmaChart, lambda x: x),
        "changepoint": (ChangePoint, lambda x: x),
        "absence": (Absence, lambda x: x),
        "budget": (lambda: BudgetBurn(BudgetParams(budget=1e9)), lambda x: x),
        "new_value": (NewValue, lambda x: {str(int(x) % 7)}),
        "hst (2 metrics)": (HalfSpaceScorer, lambda x: [x, x * 2.0]),
    }
    for name, (factory, convert) in cases.items():
        rows.append((name, run_estimator(factory(), pts, convert)))
    rows.append(("state: per event, 100 users", run_state(pts, 100)))
    n = len(pts)
    print(f"{'detector':28} {'updates/s':>14} {'us/update':>10} {'x baseline':>11}")
    for name, secs in rows:
        print(f"{name:28} {n / secs:14,.0f} {secs / n * 1e6:10.2f} {secs / base:11.1f}")


if __name__ == "__main__":
    main()
