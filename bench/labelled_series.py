"""How the detectors do on labelled metric series from outside: windows caught, false alarms.

Run: .venv/bin/python bench/labelled_series.py --data DIR --labels WINDOWS.json
     [--detectors seasonal,ewma,changepoint,hst] [--param KIND:K=V ...] [--show]

DIR holds `timestamp,value` CSV files (any depth); WINDOWS.json maps a file's path relative
to DIR to its anomaly windows, `[[start, end], ...]` (the layout of public benchmarks such
as the Numenta Anomaly Benchmark's `combined_windows.json`; no such data is shipped here).
Every detector runs online over every series exactly as `spanwatch score` does (score each
point, then learn it). An alarm is a point whose score rises to 0.5 or above from below it.
The first 15% of each series is the detector's probation (alarms there are not counted,
as the benchmark's own scorer does). Printed per detector: the anomaly windows with an
alarm inside (and how far into the window the first one came), alarms outside every window
(per series and per 1,000 points), and, beside them, a baseline in the same run: a
three-sigma rule on the running mean and deviation of all points seen so far.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.cli import auto_transform, run_online
from detectors.config import params_model
from detectors.csvseries import BadRows, Point, read_series, typical_step
from detectors.estimators import build_params

PROBATION = 0.15
THRESHOLD = 0.5
DEFAULT_KINDS = ("seasonal", "ewma", "changepoint", "hst")


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def three_sigma(points: list[Point]) -> list[float]:
    """The baseline: 1 where a point is beyond three running standard deviations."""
    mean, m2, out = 0.0, 0.0, []
    for n, p in enumerate(points):
        sd = math.sqrt(m2 / (n - 1)) if n > 1 else 0.0
        out.append(1.0 if n > 10 and sd > 0 and abs(p.value - mean) > 3 * sd else 0.0)
        delta = p.value - mean
        mean += delta / (n + 1)
        m2 += delta * (p.value - mean)
    return out


def alarms(scores: list[float]) -> list[int]:
    """Indexes where the score rises to the threshold from below it."""
    out, above = [], False
    for i, s in enumerate(scores):
        now = s >= THRESHOLD
        if now and not above:
            out.append(i)
        above = now
    return out


def evaluate(points: list[Point], scores: list[float], windows: list[tuple[float, float]]):
    """(windows caught, first-alarm position in each caught window, false alarms)."""
    start = int(len(points) * PROBATION)
    fired = [i for i in alarms(scores) if i >= start]
    caught, positions, false = 0, [], 0
    inside = set()
    for lo, hi in windows:
        hits = [i for i in fired if lo <= points[i].time <= hi]
        inside.update(hits)
        if hits:
            caught += 1
            positions.append((points[hits[0]].time - lo) / max(hi - lo, 1.0))
    false = sum(1 for i in fired if i not in inside)
    return caught, positions, false


def sigmoid_position(y: float) -> float:
    """The benchmark's scaled sigmoid: about 1 early in a window, 0 at its end, -1 far after."""
    return 2.0 / (1.0 + math.exp(min(5.0 * y, 700.0))) - 1.0


def standard_score(points: list[Point], scores: list[float], windows, threshold: float):
    """(raw score, perfect, null) under the standard profile (true positive 1, false
    positive 0.11, missed window 1): every point at or above the threshold is a detection;
    the first in a window earns by how early it came, every one outside costs by how far
    it is from the window before it (all of the cost when there is none)."""
    start = int(len(points) * PROBATION)
    total, seen_window = 0.0, set()
    for i in range(start, len(points)):
        if scores[i] < threshold:
            continue
        t = points[i].time
        inside = next((k for k, (lo, hi) in enumerate(windows) if lo <= t <= hi), None)
        if inside is not None:
            if inside not in seen_window:
                seen_window.add(inside)
                lo, hi = windows[inside]
                total += sigmoid_position((t - hi) / max(hi - lo, 1.0))
            continue
        before = [(lo, hi) for lo, hi in windows if hi < t]
        if before:
            lo, hi = before[-1]
            total += 0.11 * sigmoid_position((t - hi) / max(hi - lo, 1.0))
        else:
            total -= 0.11
    total -= len(windows) - len(seen_window)
    return total, float(len(windows)), -float(len(windows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--labels", required=True)
    parser.add_argument("--detectors", default=",".join(DEFAULT_KINDS))
    parser.add_argument("--param", action="append", default=[], metavar="KIND:K=V")
    parser.add_argument("--show", action="store_true", help="a line per series and detector")
    args = parser.parse_args()

    labels = json.loads(Path(args.labels).read_text())
    root = Path(args.data)
    kinds = [k for k in args.detectors.split(",") if k]
    given: dict[str, dict[str, str]] = defaultdict(dict)
    for item in args.param:
        kind, _, kv = item.partition(":")
        key, _, value = kv.partition("=")
        given[kind][key] = value
    totals: dict[str, list] = {k: [0, [], 0] for k in (*kinds, "three-sigma")}
    n_windows = n_series = n_points = 0
    profile: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for path in sorted(root.rglob("*.csv")):
        rel = path.relative_to(root).as_posix()
        if rel not in labels:
            continue
        windows = [(parse_time(a), parse_time(b)) for a, b in labels[rel]]
        with path.open(newline="", encoding="utf-8-sig") as f:
            points = list(read_series(f, BadRows()))
        if len(points) < 50:
            continue
        n_series += 1
        n_windows += len(windows)
        n_points += len(points)
        step = typical_step([p.time for p in points[:5000]])
        runs = {"three-sigma": three_sigma(points)}
        for kind in kinds:
            valid = params_model(kind).model_validate(given[kind]).model_dump(exclude_unset=True)
            if transform := auto_transform(kind, valid, points):  # as `spanwatch score` does
                valid["transform"] = transform
            runs[kind] = run_online(kind, build_params(kind, valid, step=step), points)
        for name, scores in runs.items():
            caught, positions, false = evaluate(points, scores, windows)
            raw, perfect, null = standard_score(points, scores, windows, THRESHOLD)
            for k, v in zip(("raw", "perfect", "null"), (raw, perfect, null), strict=True):
                profile[name][k] += v
            t = totals[name]
            t[0] += caught
            t[1].extend(positions)
            t[2] += false
            if args.show:
                print(f"{rel:60} {name:12} caught {caught}/{len(windows)} false {false}")
    if not n_series:
        print("no labelled series found under", root, file=sys.stderr)
        return 2
    print(f"\n{n_series} series, {n_points} points, {n_windows} anomaly windows")
    print(f"{'detector':12} {'caught':>10} {'median pos':>10} {'false':>6} {'per series':>10}"
          f" {'per 1k pts':>10} {'standard':>9}")  # fmt: skip
    for name, (caught, positions, false) in totals.items():
        pos = sorted(positions)[len(positions) // 2] if positions else float("nan")
        pr = profile[name]
        normalised = 100.0 * (pr["raw"] - pr["null"]) / (pr["perfect"] - pr["null"])
        print(
            f"{name:12} {caught:4}/{n_windows:<5} {pos:10.2f} {false:6} "
            f"{false / n_series:10.2f} {1000 * false / n_points:10.2f} {normalised:9.1f}"
        )
    print(
        "\ncaught: windows with an alarm (a rise to 0.5) inside; false: alarms outside every"
        "\nwindow; standard: 100 x (score - null) / (perfect - null) under the standard"
        "\nprofile, every point at or above 0.5 a detection (null: no detection at all)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
