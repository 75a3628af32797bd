"""`spanwatch replay` run as a user runs it, on history lines a test wrote."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import orjson


def replay_opened(tmp: Path, lines: Iterable[bytes], *options: str) -> list[dict]:
    """The incidents a replay of these JSON lines opens, in the log's order (the history,
    the incident log and the state folder all in `tmp`)."""
    history, log = tmp / "history.jsonl", tmp / "incidents.jsonl"
    history.write_bytes(b"".join(line + b"\n" for line in lines))
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "replay", str(history), "--out", str(log), *options],
        capture_output=True, text=True, timeout=300, cwd=tmp,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [orjson.loads(x) for x in log.read_bytes().splitlines()]
    return [r["incident"] for r in rows if r["type"] == "incident.opened"]
