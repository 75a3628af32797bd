"""The progress line of `spanwatch replay` and `spanwatch simulate`, on a real pseudo-terminal:
drawn and redrawn on stderr there, absent from a pipe and with `--quiet`."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import orjson

T0 = 1_764_316_800.0  # 2025-11-28T08:00:00Z
STAGE = re.compile(r"\r([^\r]*?)\x1b\[K")


def on_terminal(*args: str) -> tuple[int, str, str]:
    """Run the command with stderr on a pseudo-terminal; (status, stdout, stderr as drawn)."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", *args],
        stdout=subprocess.PIPE,
        stderr=slave,
        stdin=subprocess.DEVNULL,
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the other side closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    out, _ = proc.communicate(timeout=240)
    reader.join(timeout=30)
    os.close(master)
    # the terminal turns each newline into \r\n (onlcr): undo that, keep the redraws' \r
    return proc.returncode, out.decode(), b"".join(chunks).decode().replace("\r\n", "\n")


def piped(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, timeout=240
    )


def history(tmp_path: Path) -> list[str]:
    """Two files, one gzip, events out of order, flat lines and a bad line."""
    lines = [
        orjson.dumps({"time": T0 + (37 * i) % 5000, "name": "claude.invoke", "user": f"u{i % 7}"})
        for i in range(6000)
    ]
    plain = tmp_path / "a.jsonl"
    plain.write_bytes(b"\n".join([*lines[:2500], b"{not json"]) + b"\n")
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gzip.compress(b"\n".join(lines[2500:]) + b"\n"))
    return [str(plain), str(packed)]


def test_replay_draws_both_passes_on_a_terminal_and_wipes_the_line(tmp_path):
    paths = history(tmp_path)
    status, out, err = on_terminal("replay", *paths, "--out", str(tmp_path / "o.jsonl"))
    assert status == 0, err
    assert "6,000 events" in out
    drawn = STAGE.findall(err)
    reading = [d for d in drawn if d.startswith("reading 2 file(s): ")]
    replaying = [d for d in drawn if d.startswith("replaying: ")]
    assert reading and replaying, err
    assert reading[-1].startswith("reading 2 file(s): 6,000 events") and " MB" in reading[-1]
    assert "6,000/6,000 events" in replaying[-1]
    # the line is wiped before the summary reports the bad line on a line of its own
    assert "\r\x1b[Kbad line: " in err
    assert all("\n" not in d for d in drawn)


def test_replay_in_a_pipe_or_with_quiet_draws_nothing(tmp_path):
    paths = history(tmp_path)
    done = piped("replay", *paths, "--out", str(tmp_path / "o.jsonl"))
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "events/s ·" not in done.stderr
    assert "bad line: " in done.stderr
    status, _, err = on_terminal("replay", *paths, "--quiet", "--out", str(tmp_path / "q.jsonl"))
    assert status == 0
    assert "\r" not in err and "reading" not in err


def test_simulate_counts_days_on_a_terminal_and_is_quiet_otherwise(tmp_path):
    out = str(tmp_path / "sim.jsonl")
    status, summary, err = on_terminal(
        "simulate", "--days", "3", "--users", "15", "--seed", "4", "--out", out
    )
    assert status == 0, err
    drawn = [d for d in STAGE.findall(err) if d.startswith("simulating: ")]
    assert drawn, err
    last = re.search(r"(\d+)/(\d+) days", drawn[-1])
    assert last and last.group(1) == last.group(2) and int(last.group(2)) >= 3
    spans = int(re.search(r"([\d,]+) spans", summary).group(1).replace(",", ""))
    events = int(re.search(r"simulating: ([\d,]+) events", drawn[-1]).group(1).replace(",", ""))
    assert events > 0 and spans <= events
    quiet = on_terminal("simulate", "--days", "1", "--users", "5", "--quiet", "--out", out)
    assert quiet[0] == 0 and "\r" not in quiet[2]
    done = piped("simulate", "--days", "1", "--users", "5", "--out", out)
    assert done.returncode == 0 and "\r" not in done.stderr
