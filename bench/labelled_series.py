"""How the detectors do on labelled metric series: the benchmark's own normalised scores.

Run: .venv/bin/python bench/labelled_series.py --data DIR --labels WINDOWS.json
     [--detectors likelihood,seasonal,ewma,changepoint,hst] [--param KIND:K=V ...] [--show]
     [--explain]

A name in --detectors is a kind (its params are the kind's defaults, with --param) or a
default detector id (cost-per-team, ...): then each series is scored by `spanwatch score
--detector ID` itself, with that detector's configured params, as anyone benchmarking the
default set would run it.

With --repeats N every detector but the ensemble (which does so itself) is also scored with
its repeats suppressed, as `name+repeats`: a row's score is kept only when it passes every
score of the N rows before it, else 0 (what the ensemble does to its own votes; a filter on
the scores alone, so it measures what that step would be worth to any detector).

DIR holds `timestamp,value` CSV files (any depth); WINDOWS.json maps a file's path relative
to DIR to its anomaly windows, `[[start, end], ...]`: the layout of the Numenta Anomaly
Benchmark's data and `combined_windows.json` (no such data is shipped here), and of what
`bench/make_labelled_series.py` writes. Every detector runs online over every series exactly
as `spanwatch score` does (score each row, then learn it), and `bench/window_scoring.py`
scores the result as the benchmark does: per cost profile (standard, reward_low_FP,
reward_low_FN) the best single threshold over all series, the total normalised so that the
null detector is 0 and the perfect one 100. Printed beside them, measured in the same run:
a windowed Gaussian baseline (each point's two-sided tail probability under the mean and
standard deviation of the 500 points before it), the benchmark's simplest published entry,
and the null detector (never alarms), which the normalisation puts at 0 on every profile.
Only series listed in WINDOWS.json are scored; the normalisation counts their windows alone.
A listed series with no CSV under DIR is not scored either, and the first line of the output
says so (PARTIAL, with how many of the listed series and which were not found): figures over a
partial copy of a benchmark are not that benchmark's. Rows without a usable time or value are
scored 0 and named on stderr, per file.

With --explain, for each detector whose model has `votes` (the ensemble) and each series:
where it loses points at the standard profile's threshold: every window's first detection
(its position in the window, what it earned, the vote that raised it) or, for a missed
window, its largest score and that score's vote; and the false alarms, what they cost and
which vote raised them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.window_scoring import (
    PROFILES,
    Series,
    score_corpus,
    sweep_rows,
    window_rows,
)
from detectors.cli import SCORE_DECIMALS, SCORE_PARAMS, auto_transform, run_online, score
from detectors.config import params_model
from detectors.csvseries import BadRows, SeriesRow, read_series, typical_step
from detectors.estimators import ESTIMATORS, build_params, new_estimator
from detectors.likelihood import AnomalyLikelihood, LikelihoodParams

DEFAULT_KINDS = ("ensemble", "likelihood", "seasonal", "ewma", "changepoint")
BASELINE = "windowed-gauss"
NULL = "null"


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def windowed_gaussian(points: list[SeriesRow], size: int = 500) -> list[float]:
    """1 - the two-sided normal tail of each point under the last `size` points before it
    (rows without a value score 0 and are not part of any window)."""
    xs = np.array([p.value for p in points if p.value is not None], dtype=float)
    scores = np.zeros(len(xs))
    if len(xs) > 2:
        # sums over the `size` values before each point, about the series' mean (no digits lost)
        c = np.concatenate(([0.0], np.cumsum(xs - xs.mean())))
        c2 = np.concatenate(([0.0], np.cumsum((xs - xs.mean()) ** 2)))
        i = np.arange(2, len(xs))
        lo = np.maximum(0, i - size)
        n = i - lo
        mean = (c[i] - c[lo]) / n
        var = np.maximum(0.0, ((c2[i] - c2[lo]) - n * mean * mean) / (n - 1))
        dev = np.abs(xs[2:] - xs.mean() - mean)
        sd = np.sqrt(var)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(
                sd > 0, dev / sd, np.where(dev > 1e-12 * (np.abs(xs[2:]) + 1), np.inf, 0.0)
            )
        scores[2:] = [1.0 - math.erfc(v / math.sqrt(2.0)) for v in z]
    it = iter(scores.tolist())
    return [0.0 if p.value is None else next(it) for p in points]


def load(
    root: Path, labels: dict, notes: list[str] | None = None
) -> list[tuple[str, list[SeriesRow], list[tuple[float, float]]]]:
    """(name, rows, windows in time) of every labelled CSV under root. Rows without a usable
    time or value are kept (they score 0) and, with `notes`, each file that has any gets a
    line there naming them: a figure over such rows should not pass for one over clean data."""
    out = []
    for path in sorted(root.rglob("*.csv")):
        rel = path.relative_to(root).as_posix()
        if rel not in labels:
            continue
        bad = BadRows()
        with path.open(newline="", encoding="utf-8-sig") as f:
            points = list(read_series(f, bad))
        if bad and notes is not None:
            notes.append(
                f"{path}: {len(bad)} rows without a usable time or value ({bad.summary(3)})"
            )
        windows = [(parse_time(a), parse_time(b)) for a, b in labels[rel]]
        out.append((rel, points, windows))
    return out


def absent(root: Path, labels: dict, found: list[str]) -> list[str]:
    """The series WINDOWS.json lists that have no CSV under root, sorted.

    Scores are normalised over the series found alone, so a partial copy of a benchmark
    gives figures that look like the benchmark's and are not: the run must say so.

    >>> absent(Path("."), {"a.csv": [], "b.csv": []}, ["a.csv"])
    ['b.csv']
    """
    have = set(found)
    return sorted(name for name in labels if name not in have)


def corpus_line(n_found: int, missing: list[str], n_rows: int, n_windows: int) -> str:
    """The run's first line: what was scored, and (loudly) what WINDOWS.json listed that was not.

    >>> corpus_line(2, [], 10, 1)
    '2 series, 10 rows, 1 anomaly windows'
    >>> corpus_line(1, ["x/b.csv"], 5, 0)
    '1 series, 5 rows, 0 anomaly windows (PARTIAL: 1 of 2 listed series not found: x/b.csv)'
    """
    line = f"{n_found} series, {n_rows} rows, {n_windows} anomaly windows"
    if not missing:
        return line
    shown = ", ".join(missing[:5]) + (f", ... {len(missing) - 5} more" if len(missing) > 5 else "")
    total = n_found + len(missing)
    return f"{line} (PARTIAL: {len(missing)} of {total} listed series not found: {shown})"


def params_for(kind: str, given: dict[str, str], points: list[SeriesRow]) -> Any:
    """The kind's params for a series, as `spanwatch score` builds them."""
    asked = {**SCORE_PARAMS.get(kind, {}), **given}
    valid = params_model(kind).model_validate(asked).model_dump(exclude_unset=True)
    if transform := auto_transform(kind, valid, points):
        valid["transform"] = transform
    usable = [p.time for p in points if p.time is not None]
    return build_params(kind, valid, step=typical_step(usable[:5000]))


def run(kind: str, given: dict[str, str], points: list[SeriesRow]) -> list[float]:
    """A detector's scores for every row, as `spanwatch score` writes them: to six decimals,
    so that scores which differ only beyond them tie here as they do for anyone scoring its
    output (an empty score reads as 0)."""
    params = params_for(kind, given, points)
    return [
        0.0 if s is None else round(s, SCORE_DECIMALS) for s in run_online(kind, params, points)
    ]


def suppress_repeats(scores: list[float], n: int) -> list[float]:
    """Each score if it passes every score of the `n` rows before it, else 0.

    >>> suppress_repeats([0.2, 0.9, 0.5, 0.95, 0.1, 0.0, 0.3], 2)
    [0.2, 0.9, 0.0, 0.95, 0.0, 0.0, 0.3]
    """
    return [
        s if all(s > r for r in scores[max(0, i - n) : i]) else 0.0 for i, s in enumerate(scores)
    ]


def likelihood_of(scores: list[float]) -> list[float]:
    """The anomaly likelihood of each score among the scores before it (higher: more unusual)."""
    model, out = AnomalyLikelihood(LikelihoodParams(direction="up")), []
    for i, s in enumerate(scores):
        out.append(model.score_one(s, float(i)))
        model.learn_one(s, float(i))
    return out


def run_default(detector_id: str, path: Path) -> list[float]:
    """A default detector's scores for every row of the CSV at `path`, written by `spanwatch
    score --detector ID` (an empty score, a row it could not use, reads as 0)."""
    with tempfile.TemporaryDirectory() as tmp:
        out, report = Path(tmp) / "scores.csv", io.StringIO()
        if score(str(path), detector_id, {}, str(out), report) != 0:
            raise SystemExit(f"{path}: {report.getvalue().strip()}")
        with out.open(newline="", encoding="utf-8") as f:
            return [float(row["anomaly_score"] or 0.0) for row in csv.DictReader(f)]


def loudest_votes(kind: str, given: dict[str, str], points: list[SeriesRow]) -> list[str] | None:
    """Per row, the vote whose score is the row's score ("" for a row never scored); None
    for a kind whose model does not vote."""
    model = new_estimator(kind, params_for(kind, given, points))
    if not hasattr(model, "votes"):
        return None
    out = []
    for p in points:
        if p.time is None or p.value is None:
            out.append("")
            continue
        x = ESTIMATORS[kind].series_point(p.value, p.raw_value)
        votes = model.votes(x, p.time)
        out.append(max(votes, key=votes.__getitem__))
        model.learn_one(x, p.time)
    return out


def explain(series: Series, votes: list[str], threshold: float) -> list[str]:
    """Where one series loses points at a threshold under the standard profile: a line per
    window (first detection, or missed), then one for its false alarms."""
    profile = PROFILES["standard"]
    rows = sweep_rows(series.name, series.scores, series.windows, profile)
    skip = len(series.scores) - len(rows)  # the probationary rows, which are not scored
    scores = series.scores
    lines = []
    for k, (a, b) in enumerate(series.windows):
        seen = range(max(a, skip), b + 1)
        hit = next((i for i in seen if scores[i] >= threshold), None)
        if hit is not None:
            where = (hit - a) / (b - a + 1)
            lines.append(
                f"window {k} rows {a}-{b}: first at {hit} ({where:.0%} in), "
                f"earns {rows[hit - skip].worth:.3f}, by {votes[hit]}"
            )
        elif seen:
            top = max(seen, key=scores.__getitem__)
            lines.append(
                f"window {k} rows {a}-{b}: missed, costs {profile.fn:g} "
                f"(largest {scores[top]:.3g} at {top}, by {votes[top]})"
            )
    false = [i for i, r in enumerate(rows, skip) if r.window is None and r.score >= threshold]
    cost = sum(rows[i - skip].worth for i in false)
    by: dict[str, int] = defaultdict(int)
    for i in false:
        by[votes[i]] += 1
    said = ", ".join(f"{n} by {v}" for v, n in sorted(by.items())) or "none"
    lines.append(f"false alarms {len(false)}, cost {cost:.2f}: {said}")
    return lines


def at_threshold(series: Series, threshold: float) -> tuple[int, int]:
    """(windows caught, detections outside windows) of one series at a threshold."""
    rows = sweep_rows(series.name, series.scores, series.windows, PROFILES["standard"])
    hits = [r for r in rows if r.score >= threshold]
    return len({r.window for r in hits if r.window}), sum(1 for r in hits if not r.window)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--labels", required=True)
    parser.add_argument("--detectors", default=",".join(DEFAULT_KINDS))
    parser.add_argument("--param", action="append", default=[], metavar="KIND:K=V")
    parser.add_argument("--show", action="store_true", help="per series: windows caught")
    parser.add_argument(
        "--likelihood", action="store_true", help="also score each detector's likelihood"
    )
    parser.add_argument(
        "--repeats", type=int, default=0, help="also score each detector with repeats suppressed"
    )
    parser.add_argument(
        "--explain", action="store_true", help="per series: where a voting detector loses points"
    )
    args = parser.parse_args()

    labels = json.loads(Path(args.labels).read_text())
    notes: list[str] = []
    corpus = load(Path(args.data), labels, notes)
    if not corpus:
        print("no labelled series found under", args.data, file=sys.stderr)
        return 2
    missing = absent(Path(args.data), labels, [rel for rel, _, _ in corpus])
    for note in notes:
        print(note, file=sys.stderr)
    kinds = [k for k in args.detectors.split(",") if k]
    given: dict[str, dict[str, str]] = defaultdict(dict)
    for item in args.param:
        kind, _, kv = item.partition(":")
        key, _, value = kv.partition("=")
        given[kind][key] = value
    runs: dict[str, list[Series]] = defaultdict(list)
    for rel, points, windows in corpus:
        times = [p.time if p.time is not None else -math.inf for p in points]
        rows = window_rows(times, windows)
        runs[BASELINE].append(Series(rel, windowed_gaussian(points), rows))
        runs[NULL].append(Series(rel, [0.0] * len(points), rows))
        for kind in kinds:
            if kind in ESTIMATORS:
                scores = run(kind, given[kind], points)
            else:
                scores = run_default(kind, Path(args.data) / rel)
            runs[kind].append(Series(rel, scores, rows))
            if args.repeats and kind != "ensemble":
                kept = suppress_repeats(scores, args.repeats)
                runs[f"{kind}+repeats"].append(Series(rel, kept, rows))
            if args.likelihood and kind != "ensemble":
                runs[f"{kind}+likelihood"].append(Series(rel, likelihood_of(scores), rows))
    n_rows = sum(len(p) for _, p, _ in corpus)
    n_windows = sum(len(s.windows) for s in runs[BASELINE])
    print(corpus_line(len(corpus), missing, n_rows, n_windows) + "\n")
    derived = [f"{k}+{d}" for k in kinds for d in ("repeats", "likelihood") if f"{k}+{d}" in runs]
    report(runs, (*kinds, *derived, BASELINE, NULL), args.show)
    if args.explain:
        for kind in (k for k in kinds if k in ESTIMATORS):
            threshold = score_corpus(runs[kind], "standard").threshold
            for (rel, points, _), series in zip(corpus, runs[kind], strict=True):
                votes = loudest_votes(kind, given[kind], points)
                if votes is None:
                    break
                print(f"\n{kind} {rel} (threshold {threshold:.4g}):")
                for line in explain(series, votes, threshold):
                    print("   ", line)
    return 0


def report(runs: dict[str, list[Series]], names: tuple[str, ...], show: bool) -> None:
    """Per detector the three profiles' scores (and, with `show`, each series' windows)."""
    width = max(16, *(len(n) + 1 for n in names))
    print(
        f"{'detector':{width}}"
        + "".join(f"{p:>15}" for p in PROFILES)
        + "   standard: caught/false"
    )
    for name in names:
        results = [score_corpus(runs[name], p) for p in PROFILES]
        std = results[0]
        print(
            f"{name:{width}}"
            + "".join(f"{r.score:15.1f}" for r in results)
            + f"   {std.caught}/{std.caught + std.missed} windows, {std.false_alarms} false"
            + f" (threshold {std.threshold:.4g})"
        )
        if show:
            for s in runs[name]:
                caught, false = at_threshold(s, std.threshold)
                print(f"    {s.name:58} caught {caught}/{len(s.windows)}  false {false}")
    print(
        "\nscores: 100 x (total - null) / (perfect - null) at each profile's best threshold,"
        "\nthe null detector 0, the perfect one 100 (windows caught / false detections at the"
        "\nstandard profile's threshold)."
    )


if __name__ == "__main__":
    raise SystemExit(main())
