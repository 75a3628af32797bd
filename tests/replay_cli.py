"""`spanwatch replay` run as a user runs it, on history lines a test wrote."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import orjson
import yaml

from engine.timeutil import parse_time

DEFAULT_DETECTORS = Path(__file__).resolve().parents[1] / "detectors" / "defaults.yml"


def replay_rows(tmp: Path, lines: Iterable[bytes], *options: str) -> list[dict]:
    """The incident log's rows after a replay of these JSON lines (the history, the incident
    log and the state folder all in `tmp`)."""
    history, log = tmp / "history.jsonl", tmp / "incidents.jsonl"
    history.write_bytes(b"".join(line + b"\n" for line in lines))
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "replay", str(history), "--out", str(log), *options],
        capture_output=True, text=True, timeout=900, cwd=tmp,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [orjson.loads(x) for x in log.read_bytes().splitlines()]


def replay_opened(tmp: Path, lines: Iterable[bytes], *options: str) -> list[dict]:
    """The incidents a replay of these JSON lines opens, in the log's order."""
    return [
        r["incident"] for r in replay_rows(tmp, lines, *options) if r["type"] == "incident.opened"
    ]


def replay_raised(
    tmp: Path, lines: Iterable[bytes], *options: str
) -> tuple[list[dict], list[dict]]:
    """The incidents a replay opens and the findings it records, each in the log's order."""
    rows = replay_rows(tmp, lines, *options)
    opened = [r["incident"] for r in rows if r["type"] == "incident.opened"]
    return opened, [r["finding"] for r in rows if r["type"] == "finding.recorded"]


def replay_opened_at(tmp: Path, lines: Iterable[bytes], *options: str) -> list[tuple[float, dict]]:
    """The incidents a replay opens, each with the event time it was opened at."""
    rows = replay_rows(tmp, lines, *options)
    return [(parse_time(r["at"]), r["incident"]) for r in rows if r["type"] == "incident.opened"]


def replay_default_detector(
    tmp: Path, detector: str, events: Iterable[dict], *, turn_on: bool = False
) -> list[tuple[float, dict]]:
    """The incidents one default detector opens, alone in the configuration as shipped (turned
    on if `turn_on`, for one that is off by default), over a replay of these normalised
    events, each with the event time it was opened at."""
    spec = yaml.safe_load(DEFAULT_DETECTORS.read_text())
    chosen = [d for d in spec["detectors"] if d["id"] == detector]
    if turn_on:
        chosen = [{**d, "enabled": True} for d in chosen]
    config = tmp / "spanwatch.yml"
    config.write_text(yaml.safe_dump({"detectors": chosen}))
    lines = map(orjson.dumps, events)
    opened = replay_opened_at(tmp, lines, "--config", str(config))
    return [(t, i) for t, i in opened if i["rule_id"] == detector]
