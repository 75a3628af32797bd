"""Updates per second of each detector type, next to a loop that only reads the same points.

Run: .venv/bin/python bench/detector_throughput.py [--points N] [--days D --users U]
Each estimator does score_one + learn_one per point (what a closed window costs per key);
"state" rows go through DetectorState.update (one event) and advance (window close).
A "slices" row feeds the slices detector of error rates one event at a time (its windows
close every minute over about 230 slices).
The second table runs the default detectors over real telemetry: `replay`'s simulator
writes D days of U users as OTLP JSON lines, `engine.otlp.line_decoder` turns them into normalised
events, and the rows time `DetectorSet.route` and `DetectorState.update` (and `advance`
at the end of every 30 s epoch of event time, as the dataflow does) against a loop that
only reads each event's time and name.
The ratios are detector time / baseline time (and / the EWMA chart's time: a new detector
stays within 10x of it), measured in this run on this machine.
The "score path" rows run a kind with the parameters `spanwatch score` adds (`SCORE_PARAMS`).
`--no-events` skips the second table.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from detectors.absence import Absence
from detectors.budget import BudgetBurn, BudgetParams
from detectors.changepoint import ChangePoint, ChangePointParams
from detectors.cli import SCORE_PARAMS
from detectors.config import DetectorsConfig
from detectors.detectorset import DetectorSet
from detectors.ensemble import Ensemble
from detectors.ewma import EwmaChart
from detectors.halfspace import HalfSpaceParams, HalfSpaceScorer
from detectors.likelihood import AnomalyLikelihood
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
        Observation("invocations-per-user", MONDAY + i, (f"u{i % users}",), None, parent=("t",))
        for i in range(len(pts))
    ]
    start = time.perf_counter()
    for o in obs:
        state.update(o)
        state.advance(o.time - 600.0)
    return time.perf_counter() - start


def run_slices_state(pts, users: int) -> float:
    """The slices detector of error rates: one event per second over `users` people in ten
    teams, three models, two regions, four workflows and 20 repositories (so each window
    closes some 230 slices and the aggregate), as DetectorState's row does it."""
    ds = DetectorSet.from_config(DetectorsConfig())
    state = ds.new_state("slices-error-rate")
    rng = random.Random(2)
    obs = [
        Observation(
            "slices-error-rate",
            MONDAY + i,
            (f"t{i % 10}", f"u{i % users}", f"m{i % 3}", f"r{i % 2}", f"w{i % 4}", f"p{i % 20}"),
            1.0 if rng.random() < 0.01 else 0.0,
        )
        for i in range(len(pts))
    ]
    start = time.perf_counter()
    for o in obs:
        state.update(o)
        state.advance(o.time - 600.0)
    return time.perf_counter() - start


EPOCH = 30.0  # seconds of event time per dataflow epoch (the engine's ordering tick)


def simulated_events(days: int, users: int) -> list[dict[str, Any]]:
    """Normalised events of a simulated organisation, in event-time order."""
    from engine.otlp.aliases import AliasTable
    from engine.otlp.line_decoder import decode_line
    from replay.simulator.simulate import SimulationSpec, simulate

    aliases = AliasTable()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "telemetry.jsonl"
        simulate(SimulationSpec(days=days, users=users, seed=1), path)
        with path.open("rb") as lines:
            events = [e for line in lines for e in decode_line(line, aliases)]
    events.sort(key=lambda e: e["time"])
    return events


def epochs(events: list[dict[str, Any]]) -> list[tuple[list[dict[str, Any]], float]]:
    """The events cut into 30 s epochs of event time, each with its end (the watermark)."""
    out: list[tuple[list[dict[str, Any]], float]] = []
    for e in events:
        end = (e["time"] // EPOCH + 1) * EPOCH
        if not out or out[-1][1] != end:
            out.append(([], end))
        out[-1][0].append(e)
    return out


def read_events(batches) -> float:
    start = time.perf_counter()
    seen = 0
    for batch, _ in batches:
        for e in batch:
            if e.get("time") is not None and e.get("name") is not None:
                seen += 1
    return time.perf_counter() - start


def route_events(batches, update: bool, advance: bool, slices: bool = True) -> float:
    specs = DetectorsConfig().detectors
    ds = DetectorSet([s for s in specs if slices or s.kind != "slices"])
    states = {d: ds.new_state(d) for d in ds.detector_ids}
    route = ds.route
    start = time.perf_counter()
    for batch, end in batches:
        for e in batch:
            observations = route(e)
            if update:
                for o in observations:
                    states[o.detector_id].update(o)
        if advance:
            for state in states.values():
                state.advance(end)
    return time.perf_counter() - start


def event_rows(days: int, users: int) -> None:
    events = simulated_events(days, users)
    batches = epochs(events)
    n = len(events)
    base = min(read_events(batches) for _ in range(3))
    rows = [
        ("baseline (read time, name)", base),
        ("route", min(route_events(batches, False, False) for _ in range(3))),
        ("route + update", min(route_events(batches, True, False) for _ in range(3))),
        ("route + update + advance", min(route_events(batches, True, True) for _ in range(3))),
        (
            "  the same without slices",
            min(route_events(batches, True, True, slices=False) for _ in range(3)),
        ),
    ]
    count = len(DetectorsConfig().detectors)
    print(f"\n{n:,} simulated events ({days} days, {users} users), {count} default detectors")
    print(f"{'pipeline':28} {'events/s':>14} {'us/event':>10} {'x baseline':>11}")
    for name, secs in rows:
        print(f"{name:28} {n / secs:14,.0f} {secs / n * 1e6:10.2f} {secs / base:11.1f}")


SCORE_CP = SCORE_PARAMS["changepoint"]
SCORE_HST = SCORE_PARAMS["hst"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=2, help="simulated days (events table)")
    parser.add_argument("--users", type=int, default=200, help="simulated users (events table)")
    args = parser.parse_args()
    pts = points(args.points)
    base = min(baseline(pts) for _ in range(3))
    rows = [("baseline (read only)", base)]
    cases: dict[str, tuple[Callable[[], Any], Callable[[float], Any]]] = {
        "seasonal": (SeasonalBaseline, lambda x: x),
        "ewma": (EwmaChart, lambda x: x),
        "changepoint": (ChangePoint, lambda x: x),
        "changepoint (score path)": (lambda: ChangePoint(ChangePointParams(**SCORE_CP)), float),
        "absence": (Absence, lambda x: x),
        "budget": (lambda: BudgetBurn(BudgetParams(budget=1e9)), lambda x: x),
        "new_value": (NewValue, lambda x: {str(int(x) % 7)}),
        "hst (2 metrics)": (HalfSpaceScorer, lambda x: [x, x * 2.0]),
        "hst (score path)": (lambda: HalfSpaceScorer(HalfSpaceParams(**SCORE_HST)), lambda x: [x]),
        "likelihood": (AnomalyLikelihood, lambda x: x),
        "ensemble": (Ensemble, lambda x: x),
    }
    for name, (factory, convert) in cases.items():
        rows.append((name, run_estimator(factory(), pts, convert)))
    rows.append(("state: per event, 100 users", run_state(pts, 100)))
    rows.append(("slices: per event, 200 users", run_slices_state(pts, 200)))
    n = len(pts)
    ewma = dict(rows)["ewma"]
    print(f"{'detector':28} {'updates/s':>14} {'us/update':>10} {'x baseline':>11} {'x ewma':>7}")
    for name, secs in rows:
        print(
            f"{name:28} {n / secs:14,.0f} {secs / n * 1e6:10.2f} {secs / base:11.1f}"
            f" {secs / ewma:7.2f}"
        )
    if args.events:
        event_rows(args.days, args.users)


if __name__ == "__main__":
    main()
