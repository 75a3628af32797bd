"""The labelled-series bench says when it scored less than the labels list: a series with no
CSV makes the run PARTIAL, and rows it could not read are named, not silently scored 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.labelled_series import absent, load

ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("timestamp,value\n" + "\n".join(lines) + "\n")


def series(n: int, bad_at: int = -1) -> list[str]:
    rows = []
    for i in range(n):
        value = "oops" if i == bad_at else f"{10.0 + (i * 7919 % 13) / 13:.3f}"
        rows.append(f"2014-04-01 {i // 60:02d}:{i % 60:02d}:00,{value}")
    return rows


def test_a_listed_series_without_a_csv_is_named_as_absent(tmp_path):
    write(tmp_path / "a" / "one.csv", series(20))
    labels = {"a/one.csv": [], "a/two.csv": [], "b/three.csv": []}
    found = [rel for rel, _, _ in load(tmp_path, labels)]
    assert found == ["a/one.csv"]
    assert absent(tmp_path, labels, found) == ["a/two.csv", "b/three.csv"]


def test_rows_without_a_value_are_kept_and_named_per_file(tmp_path):
    write(tmp_path / "one.csv", series(20, bad_at=5))
    notes: list[str] = []
    [(_, points, _)] = load(tmp_path, {"one.csv": []}, notes)
    assert len(points) == 20 and points[5].value is None
    assert len(notes) == 1 and "one.csv: 1 rows" in notes[0] and "line 7" in notes[0]


def run_bench(data: Path, labels: Path) -> subprocess.CompletedProcess[str]:
    bench = str(ROOT / "bench" / "labelled_series.py")
    args = ["--data", str(data), "--labels", str(labels), "--detectors", "ewma"]
    return subprocess.run(
        [sys.executable, bench, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )


def test_the_run_says_partial_on_its_first_line_when_listed_series_are_missing(tmp_path):
    write(tmp_path / "d" / "one.csv", series(300, bad_at=250))
    windows = {"one.csv": [["2014-04-01 04:00:00", "2014-04-01 04:30:00"]], "gone.csv": []}
    labels = tmp_path / "windows.json"
    labels.write_text(json.dumps(windows))
    done = run_bench(tmp_path / "d", labels)
    first = done.stdout.splitlines()[0]
    assert first.startswith("1 series, 300 rows, 1 anomaly windows")
    assert "PARTIAL: 1 of 2 listed series not found: gone.csv" in first
    assert "one.csv: 1 rows without a usable time or value" in done.stderr
    whole = {"one.csv": windows["one.csv"]}
    labels.write_text(json.dumps(whole))
    assert "PARTIAL" not in run_bench(tmp_path / "d", labels).stdout
