"""`spanwatch simulate` as a user runs it: files written, a summary printed, clear errors."""

from __future__ import annotations

import io
from pathlib import Path

import orjson

from replay.simulator.cli import simulate_command
from tests.replay.otlp_view import events


def simulate_cli(tmp_path: Path, **overrides: object) -> tuple[int, str, str]:
    arguments: dict[str, object] = {
        "days": 1,
        "users": 10,
        "seed": 2,
        "start": None,
        "claude_code_logs": False,
        "incidents": True,
        "out": str(tmp_path / "history.jsonl.gz"),
        "truth": str(tmp_path / "truth.jsonl"),
    }
    arguments.update(overrides)
    stdout, stderr = io.StringIO(), io.StringIO()
    status = simulate_command(**arguments, stdout=stdout, stderr=stderr)  # type: ignore[arg-type]
    return status, stdout.getvalue(), stderr.getvalue()


def test_simulate_writes_history_and_truth_and_prints_what_it_did(tmp_path: Path) -> None:
    status, out, err = simulate_cli(tmp_path, claude_code_logs=True)
    assert status == 0 and err == ""
    history = list(events(tmp_path / "history.jsonl.gz"))
    spans = sum(1 for e in history if e["kind"] == "span")
    logs = sum(1 for e in history if e["kind"] == "log")
    truths = (tmp_path / "truth.jsonl").read_bytes().splitlines()
    assert spans > 0 and logs > 0
    assert f"{spans:,} spans, {logs:,} log records" in out
    assert f"{len(truths)} incidents injected" in out
    assert all(orjson.loads(line)["kind"] in out for line in truths)
    assert "took" in out and "spans/s" in out


def test_start_takes_an_rfc3339_time(tmp_path: Path) -> None:
    status, out, _ = simulate_cli(tmp_path, start="2026-12-07T00:00:00Z", incidents=False)
    assert status == 0
    assert "from 2026-12-07T00:00:00Z to 2026-12-08T00:00:00Z" in out
    times = [e["time"] for e in events(tmp_path / "history.jsonl.gz")]
    assert min(times) >= 1796601600.0  # 2026-12-07T00:00:00Z
    assert max(times) < 1796601600.0 + 86400


def test_without_incidents_the_truth_file_is_empty(tmp_path: Path) -> None:
    status, out, _ = simulate_cli(tmp_path, incidents=False)
    assert status == 0
    assert "0 incidents injected" in out
    assert (tmp_path / "truth.jsonl").read_bytes() == b""


def test_a_bad_start_time_is_a_one_line_error(tmp_path: Path) -> None:
    status, out, err = simulate_cli(tmp_path, start="next tuesday")
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "not a time: 'next tuesday'" in err
    assert not (tmp_path / "history.jsonl.gz").exists()


def test_zero_days_is_refused(tmp_path: Path) -> None:
    status, _, err = simulate_cli(tmp_path, days=0)
    assert status == 2
    assert "days must be at least 1" in err


def test_an_unwritable_output_is_a_one_line_error(tmp_path: Path) -> None:
    target = tmp_path / "no-such-dir" / "history.jsonl"
    status, out, err = simulate_cli(tmp_path, out=str(target))
    assert status == 2 and out == ""
    assert err.count("\n") == 1
    assert str(target) in err and "No such file or directory" in err
