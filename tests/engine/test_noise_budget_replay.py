"""A rule that matches every event, replayed through the CLI: one storm, not a page per session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from engine.incidents.noise_budget import STORM_GROUP
from engine.timeutil import parse_time
from replay.simulator.simulate import SimulationSpec, simulate

EVERYTHING = """\
title: Every event
name: every-event
level: low
logsource: {product: claude_code}
detection:
  sel:
    name|exists: true
  condition: sel
spanwatch:
  group-by: [session]
  resolve-after: 10m
"""
HOUR = 3600.0


def read(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


def test_a_rule_matching_every_event_pages_on_call_once_per_storm(tmp_path):
    history = tmp_path / "history.jsonl"
    simulate(SimulationSpec(days=1, users=25, seed=11, incidents=False), history)
    (tmp_path / "every.yml").write_text(EVERYTHING)
    log, sent = tmp_path / "incidents.jsonl", tmp_path / "notifications.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "replay", str(history),
         "--rules", str(tmp_path / "every.yml"), "--out", str(log), "--notifications", str(sent)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = read(log)
    opened = [x for x in lines if x["type"] == "incident.opened"]
    rule = [x for x in opened if x["incident"]["rule_id"] == "every-event"]
    storms = [x["incident"] for x in rule if x["incident"]["group"] == STORM_GROUP]
    sessions = [x for x in rule if x["incident"]["group"] != STORM_GROUP]
    folded = [x for x in sessions if "folded_into" in x["incident"]]
    assert len(sessions) > 60 and len(folded) > len(sessions) / 2  # everything is logged
    assert storms and {x["incident"]["folded_into"] for x in folded} <= {s["id"] for s in storms}
    # within any hour, at most ten new problems of the rule reach on-call (a session's
    # incident that resolves and comes back is the same problem: flap suppression's job)
    seen: set[str] = set()
    new_times = []
    for x in sessions:
        inc = x["incident"]
        if "folded_into" not in inc and inc["fingerprint"] not in seen:
            new_times.append(parse_time(x["at"]))
        seen.add(inc["fingerprint"])
    assert new_times and all(
        sum(1 for y in new_times[: i + 1] if y > t - HOUR) <= 10 for i, t in enumerate(new_times)
    )
    notifications = read(sent)
    # the notifications file lists each notification's incidents by id
    notified = {i for n in notifications for i in n["incidents"]}
    assert not set(notified) & {x["incident"]["id"] for x in folded}
    # each storm is announced once as opened, naming the rule as the likely cause
    for storm in storms:
        opened_notes = [
            n for n in notifications
            if n["transition"] == "incident.opened" and storm["id"] in n["incidents"]
        ]  # fmt: skip
        assert len({n["receiver"] for n in opened_notes}) == len(opened_notes)  # once each
        assert "every-event" in storm["title"] and "Likely cause" in storm["title"]
    # each storm's last record counts what was folded into it up to then (a storm still open
    # at the end of the history, as a day-long one is, records counts alone at most every
    # update_interval, 5 minutes)
    last = {x["incident"]["id"]: x for x in lines}
    for storm in storms:
        record = last[storm["id"]]
        at = parse_time(record["at"])
        into = [parse_time(x["at"]) for x in folded if x["incident"]["folded_into"] == storm["id"]]
        assert record["incident"]["storm"]["folded"] == sum(1 for t in into if t <= at)
        assert all(t <= at + 300 for t in into)
