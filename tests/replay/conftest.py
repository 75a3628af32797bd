"""Simulated histories shared by the simulator tests (made once per test process: they are slow-ish)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from replay.simulator.simulate import SimulationSpec, SimulationSummary, simulate
from tests.replay.otlp_view import events


@dataclass
class Simulated:
    spec: SimulationSpec
    path: Path
    truth_path: Path
    summary: SimulationSummary
    events: list[dict[str, object]]
    truths: list[dict[str, object]]


def run(tmp: Path, spec: SimulationSpec, name: str) -> Simulated:
    path, truth = tmp / f"{name}.jsonl", tmp / f"{name}.truth.jsonl"
    summary = simulate(spec, path, truth)
    truths = [orjson.loads(line) for line in truth.read_bytes().splitlines()]
    return Simulated(spec, path, truth, summary, list(events(path)), truths)


@pytest.fixture(scope="session")
def week(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    """A week of a 40-person organisation with every kind of incident."""
    spec = SimulationSpec(days=7, users=40, seed=7)
    return run(tmp_path_factory.mktemp("week"), spec, "week")


@pytest.fixture(scope="session")
def quiet_week(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    """The same organisation and week without incidents: ordinary traffic only."""
    spec = SimulationSpec(days=7, users=40, seed=7, incidents=False)
    return run(tmp_path_factory.mktemp("quiet"), spec, "quiet")


@pytest.fixture(scope="session")
def day_with_logs(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    """One day of 12 people with Claude Code's own log events too."""
    spec = SimulationSpec(days=1, users=12, seed=3, claude_code_logs=True)
    return run(tmp_path_factory.mktemp("logs"), spec, "day")


@pytest.fixture(scope="session")
def big_teams(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    """Four weekdays of a 150-person organisation, whose larger teams have 12 to 30 people."""
    spec = SimulationSpec(days=4, users=150, seed=4, incidents=False)
    return run(tmp_path_factory.mktemp("big"), spec, "big")
