"""Configuration and start-up problems are one line with the file (and line), never a
traceback; a recovery folder left half-made by a killed start is made again."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from engine.cli import main
from tests.engine.test_live_engine import Engine, send_pipe_to_shell

MEMORY_CAP = 1_500_000_000  # an alias bomb that got through would fail here, not swap


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def spanwatch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPANWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_cap_memory,
        env={**env, "SPANWATCH_INGEST_TOKEN": "t"},
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def cli_error(capsys, *args: str) -> str:
    """`spanwatch ARGS` through the command line's entry point, in this process: exit 2 and
    one line on standard error."""
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def alias_bomb() -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    lines.append("aliases: {user: *i}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("command", [["run"], ["rules", "check", "."], ["replay", "x.jsonl"]])
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"state_dir: s\n\x00\x01\x02binary", ":2: a binary file, not YAML text"),
        (b"state_dir: s\ncomment: caf\xe9\n", ":2: not UTF-8 text (byte 0xe9)"),
        (b"state_dir: " + b"[" * 1500 + b"]" * 1500 + b"\n", ": invalid YAML: nested too deeply"),
        (b"a: &x [1, *x]\n", ": invalid YAML: an alias contains itself (line 1)"),
    ],
    ids=["binary", "latin-1", "deep", "recursive-alias"],
)
def test_an_unreadable_configuration_is_one_line_with_file_and_line(
    tmp_path, capsys, command, content, expected
):
    config = tmp_path / "spanwatch.yml"
    config.write_bytes(content)
    line = cli_error(capsys, *command, "--config", str(config))
    assert line.startswith(f"{config}{expected}"), line


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    config = tmp_path / "spanwatch.yml"
    config.write_text(alias_bomb())
    line = one_line_error(spanwatch("run", "--config", str(config)))  # under a memory cap
    assert line.startswith(f"{config}:2: YAML aliases expand the document by 9"), line
    assert "over the limit of 10000" in line


def unwritable_dir(tmp_path: Path) -> Path:
    """A directory this process cannot write to: made so, or (as root, whom permissions do
    not stop) one of sysfs's."""
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        return locked
    for candidate in (Path("/sys/kernel"), Path("/sys/fs")):
        try:
            fd, probe = tempfile.mkstemp(dir=candidate)
        except OSError:
            return candidate
        os.close(fd)
        os.unlink(probe)
    pytest.fail("no unwritable directory to test with on this machine")


@pytest.mark.parametrize("command", ["run", "replay"])
@pytest.mark.parametrize("kind", ["a-file", "under-a-file", "not-writable"])
def test_an_unusable_state_dir_is_one_line_naming_the_setting(tmp_path, capsys, kind, command):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory\n")
    state_dir = {
        "a-file": a_file,
        "under-a-file": a_file / "state",
        "not-writable": unwritable_dir(tmp_path),
    }[kind]
    config = tmp_path / "spanwatch.yml"
    config.write_text(f"stream: {{tick: 30}}\nstate_dir: {state_dir}\n")
    if command == "run":
        line = cli_error(capsys, "run", "--config", str(config))
    else:  # replay sorts its history in a folder under state_dir
        history = tmp_path / "history.jsonl"
        history.write_text('{"time": "2026-03-02T09:00:00Z", "name": "shell.run"}\n')
        out = tmp_path / "out.jsonl"
        line = cli_error(capsys, "replay", str(history), "--config", str(config), "--out", str(out))
        assert not out.exists()
    assert line.startswith(f"{config}:2: state_dir: {state_dir}: "), line
    reason = {
        "a-file": "is a file, not a directory",
        "under-a-file": "cannot be created (Not a directory)",
        "not-writable": "is not writable",
    }[kind]
    assert reason in line


def test_a_port_in_use_is_one_line(tmp_path, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "spanwatch.yml"
        config.write_text(f"state_dir: {tmp_path / 's'}\nlive: {{api: '127.0.0.1:{port}'}}\n")
        line = cli_error(capsys, "run", "--config", str(config))
    assert line == (
        f"spanwatch: cannot listen on 127.0.0.1:{port} (live.api): Address already in use;"
        " set live.api to a free HOST:PORT"
    )


def test_a_port_beyond_65535_is_one_line(tmp_path, capsys):
    config = tmp_path / "spanwatch.yml"
    config.write_text(f"state_dir: {tmp_path / 's'}\nlive: {{otlp_http: '127.0.0.1:99999'}}\n")
    line = cli_error(capsys, "run", "--config", str(config))
    assert line.startswith("spanwatch: cannot listen on 127.0.0.1:99999 (live.otlp_http): ")
    assert "0-65535" in line


def test_an_empty_recovery_folder_left_by_a_killed_start_is_made_again_and_the_engine_runs(
    tmp_path,
):
    (tmp_path / "state" / "recovery").mkdir(parents=True)
    e = Engine(tmp_path)
    e.start()
    try:
        send_pipe_to_shell(e.otlp, "after-repair")
        e.wait_for(lambda i: i["group"].get("user") == "after-repair", "an incident")
        assert e.stop() == 0
    finally:
        if e.proc and e.proc.poll() is None:
            e.proc.kill()
    log = e.log.read_text()
    assert "was left half-made by an interrupted start: made it again" in log
    assert "Traceback" not in log


@pytest.mark.parametrize("how", ["garbage-partition", "recovery-is-a-file"])
def test_a_damaged_recovery_folder_is_reported_in_one_line_and_left_alone(tmp_path, how):
    state = tmp_path / "state"
    state.mkdir()
    recovery = state / "recovery"
    garbage = b"this is not a database, but it is somebody's file\n" * 200
    if how == "garbage-partition":
        recovery.mkdir()
        (recovery / "part-0.sqlite3").write_bytes(garbage)
    else:
        recovery.write_bytes(garbage)
    config = tmp_path / "spanwatch.yml"
    config.write_text(
        f"state_dir: {state}\nlive: {{otlp_http: '127.0.0.1:0', api: '127.0.0.1:0', otlp_grpc: '127.0.0.1:0'}}\n"
    )
    line = one_line_error(spanwatch("run", "--config", str(config)))
    assert line.startswith(f"spanwatch: {recovery} "), line
    assert "move" in line and "aside" in line
    left = recovery / "part-0.sqlite3" if how == "garbage-partition" else recovery
    assert left.read_bytes() == garbage
