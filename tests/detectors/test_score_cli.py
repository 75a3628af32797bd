"""`spanwatch score`: one detector over a CSV series, outside the dataflow."""

from __future__ import annotations

import csv
import io
import math
import random
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.cli import score


def write_series(path, rows, header="timestamp,value"):
    path.write_text("\n".join(([header] if header else []) + rows) + "\n")


def daily(n=3000, spike_at=2500, spike=150):
    rng = random.Random(4)
    rows = []
    for i in range(n):
        t = 1793577600 + i * 300
        v = 100 + 30 * math.sin(2 * math.pi * (t % 86400) / 86400) + rng.gauss(0, 3)
        rows.append(f"{t},{v + (spike if i == spike_at else 0):.4f}")
    return rows


def read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_scores_every_point_and_ranks_the_spike_highest(tmp_path):
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    write_series(src, daily())
    report = io.StringIO()
    assert score(str(src), "seasonal", {}, str(out), report) == 0
    rows = read(out)
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score"]
    assert len(rows) == 3000
    scores = [float(r["anomaly_score"]) for r in rows]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores.index(max(scores)) == 2500 and max(scores) > 0.8
    assert "scored 3000 points" in report.getvalue()


def test_iso_timestamps_without_header_and_the_csv_on_stdout(tmp_path):
    src = tmp_path / "s.csv"
    write_series(src, ["2026-11-02T00:00:00Z,1", "2026-11-02T00:05:00Z,2"], header=None)
    out = io.StringIO()
    assert score(str(src), "ewma", {}, None, out) == 0
    assert out.getvalue().splitlines() == [
        "timestamp,value,anomaly_score",
        "2026-11-02T00:00:00Z,1,0.000000",
        "2026-11-02T00:05:00Z,2,0.000000",
    ]


def test_columns_are_found_by_name_in_any_order(tmp_path):
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    write_series(src, ["5,1793577600", "6,1793577900"], header="value,timestamp")
    assert score(str(src), "ewma", {}, str(out), io.StringIO()) == 0
    assert [r["value"] for r in read(out)] == ["5", "6"]


def test_every_input_row_gets_an_output_row_in_input_order(tmp_path):
    """Unreadable times and values keep their row (with an empty score, never a zero), and
    rows that repeat a time or go back in time are scored where they stand."""
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    rows = [
        "1793577600,1",
        "yesterday,2",
        "1793578200,nan",
        "1793578500,3",
        "1793578500,3.5",
        "1793577000,4",
        "1793578800,",
        "x",
        "1793579100,inf",
        "1793579400,5",
    ]
    write_series(src, rows)
    report = io.StringIO()
    assert score(str(src), "seasonal", {}, str(out), report) == 0
    text = report.getvalue()
    assert "5 rows left without a score" in text
    for fragment in (
        "line 3: not a timestamp",
        "line 4: not a finite number",
        "line 8: no value",
        "line 9: expected at least 2 columns",
        "line 10: not a finite number",
        "1 rows earlier than the row before",
        "1 rows repeat the time before",
    ):
        assert fragment in text
    got = read(out)
    assert [r["timestamp"] for r in got] == [r.split(",")[0] for r in rows]
    assert [r["value"] for r in got] == ["1", "2", "nan", "3", "3.5", "4", "", "", "inf", "5"]
    empty = [i for i, r in enumerate(got) if r["anomaly_score"] == ""]
    assert empty == [1, 2, 6, 7, 8]
    assert all(0.0 <= float(r["anomaly_score"]) <= 1.0 for i, r in enumerate(got) if i not in empty)


def test_a_gap_is_not_learned_as_a_zero(tmp_path):
    """A series at a steady 100 with empty values in between: were a gap a zero, the point
    after it would look normal after a run of zeros and the zeros would be outliers."""
    rows = [f"{1793577600 + 300 * i},{'' if i % 10 == 5 else 100 + (i % 3)}" for i in range(600)]
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    write_series(src, rows)
    assert score(str(src), "ewma", {}, str(out), io.StringIO()) == 0
    scores = [r["anomaly_score"] for r in read(out)]
    assert len(scores) == 600 and scores.count("") == 60
    assert max(float(s) for s in scores if s) < 0.5


@settings(max_examples=30, deadline=None)
@given(
    cells=st.lists(
        st.tuples(
            st.integers(0, 40),
            st.one_of(
                st.floats(-1e6, 1e6, allow_nan=False).map(repr),
                st.sampled_from(["", "nan", "NaN", "-inf", "abc"]),
            ),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_one_output_row_per_input_row_whatever_the_order_or_values(tmp_path_factory, cells):
    src = tmp_path_factory.mktemp("s") / "s.csv"
    rows = [f"{1793577600 + 60 * t},{v}" for t, v in cells]
    write_series(src, rows)
    out = io.StringIO()
    code = score(str(src), "likelihood", {}, None, out)
    lines = out.getvalue().splitlines()
    if code == 2:  # not one usable point: an error, and nothing written
        assert not lines
        return
    assert len(lines) == len(rows) + 1
    assert [ln.rsplit(",", 1)[0] for ln in lines[1:]] == rows


def test_without_a_detector_the_default_one_scores(tmp_path):
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    write_series(src, daily())
    report = io.StringIO()
    assert score(str(src), None, {}, str(out), report) == 0
    assert "with ensemble (ensemble)" in report.getvalue()
    scores = [float(r["anomaly_score"]) for r in read(out)]
    assert scores.index(max(scores)) == 2500 and max(scores) > 0.5


def test_params_are_validated_and_unknown_detectors_named(tmp_path):
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    write_series(src, daily(50))
    report = io.StringIO()
    assert score(str(src), "seasonal", {"z": "-1", "bogus": "2"}, str(out), report) == 2
    assert "--param z" in report.getvalue() and "--param bogus" in report.getvalue()
    report = io.StringIO()
    assert score(str(src), "prophet", {}, str(out), report) == 2
    assert "unknown detector 'prophet'" in report.getvalue() and "seasonal" in report.getvalue()
    report = io.StringIO()
    assert score(str(src), "budget", {}, str(out), report) == 2
    assert "budget=AMOUNT" in report.getvalue()
    assert score(str(tmp_path / "missing.csv"), "ewma", {}, str(out), io.StringIO()) == 2


def test_params_change_the_scores_and_configured_ids_are_accepted(tmp_path):
    src, a, b, c = (tmp_path / f"{n}.csv" for n in ("s", "a", "b", "c"))
    write_series(src, daily())
    assert score(str(src), "seasonal", {"z": "20"}, str(a), io.StringIO()) == 0
    assert score(str(src), "seasonal", {}, str(c), io.StringIO()) == 0
    assert score(str(src), "cost-per-team", {}, str(b), io.StringIO()) == 0
    lenient = sum(float(r["anomaly_score"] or 0) for r in read(a))
    default = sum(float(r["anomaly_score"] or 0) for r in read(c))
    assert lenient < default
    assert max(float(r["anomaly_score"]) for r in read(b)) > 0.5


def request_bytes(n=3000, rise_at=2500):
    """Bytes per request batch: lognormal (a long right tail, 99th percentile some fifteen
    times the median), and from `rise_at` on thirty times larger (a payload gone wrong)."""
    rng = random.Random(9)
    return [
        f"{1793577600 + i * 300},{1000 * rng.lognormvariate(0, 1.2) * (30 if i >= rise_at else 1):.1f}"
        for i in range(n)
    ]


def test_a_series_spanning_orders_of_magnitude_is_scored_on_a_log_scale(tmp_path):
    src, out, raw = tmp_path / "s.csv", tmp_path / "o.csv", tmp_path / "r.csv"
    write_series(src, request_bytes())
    report = io.StringIO()
    # a change detector: a bare ewma scores the likelihood of errors from a baseline that
    # follows ten points, which absorbs a lasting shift of three sigmas before it stands out
    assert score(str(src), "changepoint", {}, str(out), report) == 0
    assert "on a log scale" in report.getvalue()
    scores = [float(r["anomaly_score"]) for r in read(out)]
    assert max(scores[2500:2510]) > 0.5, "thirty times the usual size is a change"
    alarms_before = sum(s >= 0.5 for s in scores[500:2500])
    assert score(str(src), "changepoint", {"transform": "none"}, str(raw), io.StringIO()) == 0
    raw_scores = [float(r["anomaly_score"]) for r in read(raw)]
    assert alarms_before < sum(s >= 0.5 for s in raw_scores[500:2500]), (
        "on the raw scale the long tail alarms more"
    )


def test_a_series_of_ordinary_spread_keeps_its_scale(tmp_path):
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    write_series(src, daily())
    report = io.StringIO()
    assert score(str(src), "seasonal", {}, str(out), report) == 0
    assert "log scale" not in report.getvalue()


def test_a_log_scale_and_a_noise_model_together_are_refused(tmp_path):
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    write_series(src, daily(300))
    report = io.StringIO()
    params = {"transform": "log", "noise": "poisson"}
    assert score(str(src), "seasonal", params, str(out), report) == 2
    assert "noise" in report.getvalue()


def test_a_tab_separated_series_with_slash_dates_is_read(tmp_path):
    """A spreadsheet export: the header written with a comma, the rows with tabs."""
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    rows = [f"2019/1/{d}\t{100 + d}" for d in range(1, 29)]
    src.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    report = io.StringIO()
    assert score(str(src), "ewma", {}, str(out), report) == 0
    got = read(out)
    assert len(got) == 28 and got[0]["timestamp"] == "2019/1/1" and got[0]["value"] == "101"
    assert "bad rows" not in report.getvalue()


def test_a_file_without_a_usable_point_is_an_error_that_says_why(tmp_path):
    empty, bad, out = tmp_path / "e.csv", tmp_path / "b.csv", tmp_path / "o.csv"
    empty.write_text("timestamp,value\n")
    bad.write_text("timestamp,value\nyesterday,1\nnoon,2\n")
    report = io.StringIO()
    assert score(str(empty), "ewma", {}, str(out), report) == 2
    assert "no usable points" in report.getvalue() and "empty" in report.getvalue()
    report = io.StringIO()
    assert score(str(bad), "ewma", {}, str(out), report) == 2
    assert "line 2: not a timestamp: 'yesterday'" in report.getvalue()


@settings(max_examples=40, deadline=None)
@given(
    sep=st.sampled_from([",", "\t", ";", "|"]),
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=30),
    header=st.booleans(),
)
def test_any_separator_reads_back_the_same_points(sep, values, header):
    from detectors.csvseries import BadRows, read_series

    lines = [f"timestamp{sep}value"] if header else []
    lines += [f"{1793577600 + 60 * i}{sep}{v!r}" for i, v in enumerate(values)]
    bad = BadRows()
    points = list(read_series(io.StringIO("\n".join(lines) + "\n"), bad))
    assert not bad and [p.value for p in points] == values


def run_command(*args, cwd):
    """`spanwatch ARGS...` as a user runs it, from the virtualenv's console script."""
    exe = Path(sys.executable).parent / "spanwatch"
    return subprocess.run(
        [str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_command_line_scores_every_row_with_the_default_detector(tmp_path):
    """Rows out of order, repeated and unreadable keep their place; a spike after a level
    shift scores above everything around it; the report names the odd rows."""
    rng = random.Random(21)
    rows = [
        f"2024-03-0{1 + i // 288} {i % 288 // 12:02d}:{i % 12 * 5:02d}:00," for i in range(2000)
    ]
    values = [rng.gauss(40, 2) + (25 if i >= 1500 else 0) for i in range(2000)]
    rows = [f"{r}{v:.3f}" for r, v in zip(rows, values, strict=True)]
    rows[700], rows[701] = rows[701], rows[700]  # out of order
    rows[900] = rows[899]  # a repeated time
    rows[1000] = rows[1000].split(",")[0] + ",NaN"
    write_series(tmp_path / "s.csv", rows)
    done = run_command("score", "s.csv", "--out", "o.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = read(tmp_path / "o.csv")
    assert len(out) == 2000 and out[1000]["anomaly_score"] == ""
    assert [r["timestamp"] for r in out] == [r.split(",")[0] for r in rows]
    scores = [float(r["anomaly_score"] or 0) for r in out]
    assert max(scores[1500:1503]) >= 0.5 > max(scores[1510:1600])
    assert "with ensemble (ensemble)" in done.stdout and "line 1002" in done.stdout


def test_the_command_line_rejects_an_unknown_detector_in_one_line(tmp_path):
    write_series(tmp_path / "s.csv", ["2024-01-01T00:00:00Z,1"])
    done = run_command("score", "s.csv", "--detector", "nope", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "unknown detector 'nope'" in done.stderr
