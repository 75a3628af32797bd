"""`spanwatch score SERIES.csv [--detector NAME] [--param K=V...] [--out FILE]`.

Runs one detector online over a metric series (score each point, then learn it) and writes
`timestamp,value,anomaly_score`: how detectors are tuned and compared outside the dataflow.

Exactly one output row per input data row, in input order. A row whose time cannot be read or
whose value is empty, NaN or infinite gets an empty score: the detector neither scores nor
learns it (a gap is not a zero). Rows whose time repeats or goes backwards are scored where
they stand, in file order, as a live detector would see late data.
"""

from __future__ import annotations

import csv
import sys
from typing import Any, TextIO

from pydantic import ValidationError

from detectors.config import DetectorSpec, default_detectors, params_model
from detectors.csvseries import BadRows, SeriesRow, disorder, read_series, typical_step
from detectors.error_likelihood import ErrorLikelihood, ErrorOf, ewma_error, seasonal_error
from detectors.estimators import ESTIMATORS, KINDS, TABLE_KINDS, build_params, new_estimator

# What `spanwatch score` runs when no detector is named.
DEFAULT_DETECTOR = "ensemble"
SCORE_DECIMALS = 6  # of a score written: ranks beyond them tie for whoever reads the file
# What a bare kind is run with beside its own defaults, which serve the dataflow's detectors
# (they set their own params): a series scored without a configuration is judged for every
# kind of anomaly, so the change-point test also speaks on a lone point far out (its Shewhart
# test, at the same 6 sigmas as the EWMA chart's). Half-space trees get the same point test
# and repeat suppression; their forest, which on a single metric can only say how rarely the
# window visits a value and says "never" alike for three sigmas and a hundred, speaks at 12
# of its own spreads rather than 2.5, so that its ties do not outrank the point test's sizes.
# The EWMA chart's baseline follows the last ten points or so (alpha 0.1, not the dataflow's
# 0.02, which serves windows of a day's activity): scored alone its errors feed the anomaly
# likelihood (`SCORE_ERRORS`), and a baseline fifty points slow makes every daily cycle an
# error, where a short one leaves the errors of a one-step forecast.
SCORE_PARAMS: dict[str, dict[str, Any]] = {
    "ewma": {"alpha": 0.1},
    "changepoint": {"point_z": 6.0, "repeat": 60},
    "hst": {"point_z": 6.0, "repeat": 60, "z": 12.0},
}

# The kinds whose bare scores are the anomaly likelihood of their prediction errors (see
# `detectors.error_likelihood`), and how each model's error is read.
SCORE_ERRORS: dict[str, ErrorOf] = {"ewma": ewma_error, "seasonal": seasonal_error}


class ScoreError(Exception):
    """A usage or input error of `spanwatch score`: its lines are printed and it exits 2."""


def _resolve(detector: str) -> tuple[str, dict[str, Any], str, DetectorSpec | None]:
    """(kind, configured params, aggregation, spec) for a kind name or a default detector id."""
    if detector in KINDS:
        return detector, dict(SCORE_PARAMS.get(detector, {})), "", None
    for spec in default_detectors():
        if spec.id == detector and spec.kind in TABLE_KINDS:
            raise ScoreError(
                f"error: {detector!r} watches every slice of its labels at once, not one series:"
                " replay a history with it (spanwatch replay)"
            )
        if spec.id == detector:
            return spec.kind, dict(spec.params), spec.metric_specs[0].aggregation, spec
    ids = ", ".join(s.id for s in default_detectors())
    raise ScoreError(
        f"error: unknown detector {detector!r}: use a kind ({', '.join(KINDS)}) "
        f"or a default detector id ({ids})"
    )


def _validate(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """The params as given, checked against the kind's model (one line per bad one)."""
    try:
        return params_model(kind).model_validate(given).model_dump(exclude_unset=True)
    except ValidationError as exc:
        lines = [
            f"error: --param {'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ScoreError("\n".join(lines)) from None


def _read_points(csv_path: str) -> tuple[list[SeriesRow], BadRows]:
    """Every row of the CSV (usable or not) and the report of the unusable ones."""
    bad = BadRows()
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            points = list(read_series(f, bad))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ScoreError(f"error: cannot read {csv_path}: {exc}") from None
    if not any(p.usable for p in points):
        why = f": {bad.summary(3)}" if bad else " (it is empty)"
        raise ScoreError(f"error: no usable points in {csv_path}{why}")
    return points, bad


def _model_params(
    kind: str, given: dict[str, Any], points: list[SeriesRow], spec: DetectorSpec | None, agg: str
) -> tuple[Any, str]:
    """The model's params with the series' step (and scale, when none was asked for), and a
    note on the scale chosen."""
    usable = [p.time for p in points if p.usable and p.time is not None]
    step = typical_step(usable[:5000])
    if spec is not None and "step" not in given:
        step = spec.interval if step is None else step
    note = ""
    if spec is None and (transform := auto_transform(kind, given, points)):
        given = {**given, "transform": transform}
        note = f"; on a {transform} scale (its values span orders of magnitude)"
    try:
        params = build_params(kind, given, step=step, aggregation=agg)
    except (TypeError, ValueError) as exc:
        raise ScoreError(f"error: {exc}") from None
    problem = ESTIMATORS[kind].series_problem(params)
    if problem is not None:
        raise ScoreError(f"error: {problem}")
    return params, note


def _write_scores(
    points: list[SeriesRow], scores: list[float | None], out_path: str | None, stdout: TextIO
) -> None:
    rows = [
        (p.raw_time, p.raw_value, "" if s is None else f"{s:.{SCORE_DECIMALS}f}")
        for p, s in zip(points, scores, strict=True)
    ]
    try:
        if out_path:
            with open(out_path, "w", newline="", encoding="utf-8") as out:
                _write(out, rows)
        else:
            _write(stdout, rows)
    except OSError as exc:
        raise ScoreError(f"error: cannot write {out_path}: {exc}") from None


def _summary(csv_path: str, label: str, points: list[SeriesRow], bad: BadRows, note: str) -> str:
    """What was scored, on which scale, and which rows were left out or out of order."""
    back, same = disorder(points)
    usable = sum(1 for p in points if p.usable)
    return (
        f"scored {usable} points of {csv_path} with {label}"
        + note
        + (f"; {len(bad)} rows left without a score: {bad.summary()}" if bad else "")
        + (f"; {back} rows earlier than the row before" if back else "")
        + (f"; {same} rows repeat the time before" if same else "")
        + ("; such rows are scored in file order" if back or same else "")
    )


def score(
    csv_path: str,
    detector: str | None,
    params: dict[str, str],
    out_path: str | None,
    stdout: TextIO,
) -> int:
    """Score every row of the series; 0 on success, 2 on a usage or input error.

    Rows without a usable time or value get an empty score and are reported with their line
    numbers. Without `out_path` the CSV goes to `stdout` and the report to stderr.
    """
    detector = detector or DEFAULT_DETECTOR
    report = stdout if out_path else sys.stderr
    try:
        kind, base, aggregation, spec = _resolve(detector)
        given = _validate(kind, {**base, **params})
        points, bad = _read_points(csv_path)
        model_params, note = _model_params(kind, given, points, spec, aggregation)
        scores = run_online(kind, model_params, points, bare=spec is None)
        _write_scores(points, scores, out_path, stdout)
    except ScoreError as exc:
        print(exc, file=report)
        return 2
    print(_summary(csv_path, f"{detector} ({kind})", points, bad, note), file=report)
    return 0


# The first part of a series that may choose its scale: what a deployment would have seen
# before it trusted the detector's alerts.
LEAD_SHARE, LEAD_MIN = 0.15, 100


def auto_transform(kind: str, given: dict[str, Any], points: list[SeriesRow]) -> str | None:
    """The scale to score a series on when none was asked for: `log` if the kind can model
    log(1 + x), no noise model was asked for, and the series' first part is non-negative with
    its 99th percentile more than ten times its median (bytes or requests that span orders
    of magnitude, where a difference of a thousand means nothing at a million and everything
    at ten); else None."""
    if "transform" not in params_model(kind).model_fields or "transform" in given:
        return None
    if given.get("noise", "none") != "none":
        return None
    values = [p.value for p in points if p.value is not None and p.time is not None]
    lead = sorted(values[: max(LEAD_MIN, int(len(values) * LEAD_SHARE))])
    if len(lead) < LEAD_MIN or lead[0] < 0.0:
        return None
    median, q99 = lead[len(lead) // 2], lead[min(len(lead) - 1, int(len(lead) * 0.99))]
    return "log" if median > 0.0 and q99 > 10.0 * median else None


def run_online(
    kind: str, model_params: Any, points: list[SeriesRow], bare: bool = True
) -> list[float | None]:
    """Each point's score in [0, 1] before the model learns it (what a live key would see);
    None for a row without a usable time or value, which the model never sees. The kinds of
    `SCORE_ERRORS`, run `bare` (not as a configured detector, which scores as in the
    dataflow), score the anomaly likelihood of their errors."""
    model: Any = new_estimator(kind, model_params)
    if bare and kind in SCORE_ERRORS:
        model = ErrorLikelihood(model, SCORE_ERRORS[kind])
    scores: list[float | None] = []
    for p in points:
        if p.time is None or p.value is None:
            scores.append(None)
            continue
        x = ESTIMATORS[kind].series_point(p.value, p.raw_value)
        s = model.score_one(x, p.time)
        model.learn_one(x, p.time)
        scores.append(min(1.0, max(0.0, s)))
    return scores


def _write(out: TextIO, rows: list[tuple[str, str, str]]) -> None:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(("timestamp", "value", "anomaly_score"))
    w.writerows(rows)
