"""Claude Code's own events feed the detectors, and an organisation exporting both them and
the wrapper's spans gets each call counted once: replayed through the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from replay.simulator.shape import OrgShape
from replay.simulator.simulate import SimulationSpec, simulate

CALL_DETECTORS = {
    "cost-per-team",
    "cost-per-user",
    "tokens-per-team",
    "tokens-per-user",
    "invocations-per-user",
    "error-rate-per-user",
    "error-rate-per-team",
    "failing-teams-per-model-region",
    "latency-per-model-region",
    # and the rules that add calls up
    "user-hourly-cost-over-budget",
    "team-hourly-token-burn",
    "user-error-burst",
}


def replay(tmp: Path, export: str) -> list[dict]:
    history, log = tmp / f"{export}.jsonl", tmp / f"{export}.incidents.jsonl"
    spec = SimulationSpec(days=5, users=30, seed=8, shape=OrgShape(export=export), kinds="all")
    simulate(spec, history, tmp / f"{export}.truth.jsonl")
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "replay", str(history), "--out", str(log)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [orjson.loads(x) for x in log.read_bytes().splitlines()]
    return [x for x in lines if x["type"] == "incident.opened"]


@pytest.fixture(scope="module")
def organisations(tmp_path_factory) -> dict[str, list[dict]]:
    tmp = tmp_path_factory.mktemp("calls")
    return {export: replay(tmp, export) for export in ("spans", "both", "logs")}


def detector_incidents(opened: list[dict]) -> set[tuple]:
    return {
        (x["at"], x["incident"]["rule_id"], tuple(sorted(x["incident"]["group"].items())))
        for x in opened
        if x["incident"]["rule_id"] in CALL_DETECTORS
    }


def test_exporting_both_spans_and_claude_code_events_counts_each_call_once(organisations):
    spans, both = organisations["spans"], organisations["both"]
    assert detector_incidents(spans)  # the injected cost spikes and bursts are found
    assert detector_incidents(both) == detector_incidents(spans)


def test_an_organisation_exporting_only_claude_code_events_gets_call_detection(organisations):
    found = {x[1] for x in detector_incidents(organisations["logs"])}
    assert {"cost-per-user", "invocations-per-user", "error-rate-per-team"} <= found
