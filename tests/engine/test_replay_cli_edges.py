"""`spanwatch replay` at its edges: the --rules grammar, time ranges, empty history, outputs
that are whole or absent, and a control report a person can read."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest

from engine.cli import main

RULE = """\
title: {title}
name: {name}
level: high
logsource: {{product: test}}
detection:
  sel:
    command|contains: '{needle}'
  condition: sel
spanwatch:
  group-by: [user]
"""


def spanwatch(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=cwd,
    )


@pytest.fixture
def rules(tmp_path: Path) -> tuple[Path, Path]:
    one = tmp_path / "rm-rf.yml"
    one.write_text(RULE.format(title="rm -rf", name="rm-rf", needle="rm -rf"))
    two = tmp_path / "chmod.yml"
    two.write_text(RULE.format(title="chmod 777", name="chmod-777", needle="chmod 777"))
    return one, two


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """Flat events with offsets other than UTC, out of order, one line of each kind."""
    path = tmp_path / "history.jsonl"
    lines = [
        {"time": "2026-02-03T10:00:05+05:30", "name": "shell.run", "user": "kim", "command": "chmod 777 /"},
        {"time": "2026-02-03T04:29:00Z", "name": "shell.run", "user": "lee", "command": "rm -rf /tmp/x"},
        {"time": "2026-02-02T23:31:00-05:00", "name": "shell.run", "user": "kim", "command": "ls"},
    ]  # fmt: skip
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    return path


def rule_ids(log: Path) -> set[str]:
    return {orjson.loads(x)["incident"]["rule_id"] for x in log.read_bytes().splitlines()}


def test_rules_repeat_and_may_come_before_or_after_the_history(tmp_path, rules, history):
    out = tmp_path / "out.jsonl"
    before = spanwatch(
        "replay",
        "--rules",
        str(rules[0]),
        "--rules",
        str(rules[1]),
        str(history),
        "--out",
        str(out),
    )
    assert before.returncode == 0, before.stderr
    assert rule_ids(out) == {"rm-rf", "chmod-777"}
    after = spanwatch("replay", str(history), "--out", str(out), "--rules", str(rules[0]))
    assert after.returncode == 0, after.stderr
    assert rule_ids(out) == {"rm-rf"}


def test_two_paths_after_one_rules_is_refused_rather_than_read_as_history(tmp_path, rules, history):
    out = tmp_path / "out.jsonl"
    done = spanwatch(
        "replay", "--rules", str(rules[0]), str(rules[1]), str(history), "--out", str(out)
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"spanwatch: {rules[1]} looks like rules, not history: --rules takes one path, so give "
        "each its own (--rules A.yml --rules B.yml HISTORY)\n"
    )
    assert not out.exists()


def test_from_after_to_is_an_error_not_an_empty_replay(tmp_path, history):
    out = tmp_path / "out.jsonl"
    done = spanwatch(
        "replay",
        str(history),
        "--out",
        str(out),
        "--from",
        "2026-02-04",
        "--to",
        "2026-02-03T12:00:00+02:00",
    )
    assert done.returncode == 2
    assert done.stderr == (
        "spanwatch: --from 2026-02-04T00:00:00Z is not before --to 2026-02-03T10:00:00Z: "
        "nothing would be replayed (--from is inclusive, --to exclusive)\n"
    )
    assert not out.exists()


def test_an_unreadable_time_is_a_usage_line(tmp_path, history):
    done = spanwatch("replay", str(history), "--from", "yesterday")
    assert done.returncode == 2
    assert "argument --from: 'yesterday' is not a time: use RFC 3339" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_empty_history_says_so_exits_one_and_writes_nothing(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    out = tmp_path / "out.jsonl"
    done = spanwatch("replay", str(empty), "--out", str(out))
    assert done.returncode == 1
    assert done.stderr == (
        "spanwatch: nothing replayed: the history holds no events (1 file(s), 0 lines); "
        "no output written\n"
    )
    assert not out.exists()


def test_a_range_that_holds_no_event_says_so(tmp_path, history):
    out = tmp_path / "out.jsonl"
    done = spanwatch("replay", str(history), "--out", str(out), "--from", "2030-01-01T00:00:00Z")
    assert done.returncode == 1
    assert "nothing replayed: the 3 event(s) read are all outside --from/--to" in done.stderr
    assert not out.exists()


def test_strict_failure_leaves_no_partial_output_and_keeps_the_previous_file(tmp_path, history):
    out = tmp_path / "out.jsonl"
    out.write_text("the previous run's log\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(history.read_bytes() + b"{not json\n")
    done = spanwatch(
        "replay",
        str(bad),
        "--out",
        str(out),
        "--strict",
        "--notifications",
        str(tmp_path / "n.jsonl"),
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"spanwatch: --strict: {bad}:4: not valid JSON")
    assert out.read_text() == "the previous run's log\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "history.jsonl", "out.jsonl"]


def test_the_control_report_is_readable(tmp_path, history):
    control = tmp_path / "control.jsonl"
    control.write_text(
        textwrap.dedent(
            """\
            {"type": "ack", "at": "2026-02-03T04:35:00Z", "incident": "no-such-incident", "by": "ann"}
            """
        )
    )
    done = spanwatch(
        "replay", str(history), "--control", str(control), "--out", str(tmp_path / "o")
    )
    assert done.returncode == 0, done.stderr
    assert (
        "control: 2026-02-03T04:35:00Z ack no-such-incident: not_found "
        "(ack for unknown incident no-such-incident)"
    ) in done.stderr.splitlines()
    assert "ControlReport(" not in done.stderr


def test_workers_must_be_a_positive_whole_number(history):
    done = spanwatch("replay", str(history), "--workers", "0")
    assert done.returncode == 2
    assert "argument --workers: '0': must be 1 or more" in done.stderr


def test_an_output_that_cannot_be_written_stops_the_replay_before_it_starts(
    tmp_path, history, capsys
):
    taken = tmp_path / "a-directory"
    taken.mkdir()
    assert main(["replay", str(history), "--out", str(taken)]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "",
        f"spanwatch: cannot write {taken}: it is a directory\n",
    )
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    notes = blocker / "notifications.jsonl"
    code = main(
        ["replay", str(history), "--out", str(tmp_path / "o"), "--notifications", str(notes)]
    )
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err == f"spanwatch: cannot write {notes}: {blocker} is not a directory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-directory", "a-file", "history.jsonl"]


def test_a_directory_of_rules_among_the_history_is_refused(tmp_path, rules, history):
    extra = tmp_path / "more-rules"
    extra.mkdir()
    rules[1].rename(extra / rules[1].name)
    done = spanwatch("replay", "--rules", str(rules[0]), str(extra), str(history))
    assert done.returncode == 2
    assert done.stderr.startswith(f"spanwatch: {extra} looks like rules, not history")
