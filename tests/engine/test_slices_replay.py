"""A team's error burst in a replayed history is named by the slices detector, team and
figures in the incident's title, within minutes: `spanwatch replay` as a user runs it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson

from engine.timeutil import parse_time
from replay.simulator.shape import OrgShape
from replay.simulator.simulate import SimulationSpec, simulate

CONFIG = """\
detectors:
  - id: slices-error-rate
    kind: slices
    title: Error rate
    severity: critical
    aggregation: rate
    condition: {status: error}
    filter: {name: [claude.invoke, claude_code.api_request, claude_code.api_error]}
    dedup: {by: session, prefer: {name: claude.invoke}}
    group_by: [team, user, model, region, workflow, repo]
    interval: 1m
    keep_firing_for: 10
    params: {direction: up, span: 3, alpha: 0.005}
"""


def test_a_team_error_burst_is_named_with_its_team_and_figures(tmp_path: Path):
    history, truth, log = tmp_path / "h.jsonl", tmp_path / "truth.jsonl", tmp_path / "out.jsonl"
    shape = OrgShape(spelling="mixed", export="both", zones="global")
    simulate(SimulationSpec(days=3, users=40, seed=12, shape=shape, kinds="all"), history, truth)
    (tmp_path / "spanwatch.yml").write_text(CONFIG)
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "replay", str(history),
         "--config", str(tmp_path / "spanwatch.yml"), "--out", str(log)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    burst = next(
        x for x in map(orjson.loads, truth.read_bytes().splitlines())
        if x["kind"] == "team_error_burst"
    )  # fmt: skip
    team, start = burst["group"]["team"], parse_time(burst["start"])
    opened = [
        x for x in map(orjson.loads, log.read_bytes().splitlines())
        if x["type"] == "incident.opened" and x["incident"]["rule_id"] == "slices-error-rate"
    ]  # fmt: skip
    named = [x for x in opened if x["incident"]["group"] == {"team": team}]
    assert named, [x["incident"]["title"] for x in opened]
    incident = named[0]["incident"]
    assert re.match(rf"Error rate \d+% for team={team}, baseline [\d.]+%", incident["title"])
    assert incident["severity"] == "critical"
    assert 0 <= parse_time(named[0]["at"]) - start <= 300
    during = [x for x in opened if start - 300 <= parse_time(x["at"]) <= parse_time(burst["end"])]
    assert len(during) == 1  # one outbreak, one incident
