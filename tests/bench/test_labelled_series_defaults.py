"""The labelled-series bench scores default detectors as `spanwatch score --detector ID` does,
and measures what suppressing repeats or reading a likelihood would do to any detector."""

from __future__ import annotations

import csv
import io
import math
import random
from pathlib import Path

import pytest

from bench.labelled_series import likelihood_of, run_default, suppress_repeats
from detectors.cli import score


def test_a_score_counts_only_when_it_passes_every_score_of_the_rows_before():
    scores = [0.2, 0.9, 0.5, 0.95, 0.1, 0.0, 0.3, 0.3]
    # row 2: 0.5 < 0.9; row 4: 0.1 < 0.95; row 5: 0 is no score; row 7: 0.3 ties row 6
    assert suppress_repeats(scores, 2) == [0.2, 0.9, 0.0, 0.95, 0.0, 0.0, 0.3, 0.0]
    assert suppress_repeats(scores, 0) == scores


def write_series(path: Path, values: list[float]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("timestamp", "value"))
        for i, v in enumerate(values):
            t = 1_700_000_000 + 900 * i
            w.writerow((f"{t}", repr(v)))


def test_a_default_detector_scores_every_row_as_spanwatch_score_writes_them(tmp_path):
    rng = random.Random(7)
    values = [50.0 + 5.0 * math.sin(i / 15) + rng.gauss(0.0, 1.0) for i in range(900)]
    values[800] = 400.0
    path = tmp_path / "s.csv"
    write_series(path, values)
    scores = run_default("cost-per-team", path)
    out = tmp_path / "by_cli.csv"
    assert score(str(path), "cost-per-team", {}, str(out), io.StringIO()) == 0
    with out.open() as f:
        written = [float(r["anomaly_score"] or 0.0) for r in csv.DictReader(f)]
    assert scores == written and len(scores) == len(values)
    assert scores[800] == max(scores) > 0.5


def test_an_unknown_default_detector_stops_the_bench_with_one_line(tmp_path):
    path = tmp_path / "s.csv"
    write_series(path, [1.0, 2.0, 3.0])
    with pytest.raises(SystemExit) as stop:
        run_default("no-such-detector", path)
    message = str(stop.value)
    assert "unknown detector 'no-such-detector'" in message and "\n" not in message


def test_the_likelihood_of_scores_is_loudest_on_the_one_unusual_score():
    rng = random.Random(3)
    scores = [0.1 * rng.random() for _ in range(1200)]
    scores[1000] = 0.9
    like = likelihood_of(scores)
    assert len(like) == len(scores)
    assert like[1000] == max(like) >= 0.5
    assert max(like[:150]) == 0.0  # nothing before the likelihood's first points
