"""The number of workers and processes never shows in the output: 1, 2 and 4 workers, and 2
processes, give the same bytes.

The matching, routing and keyed shards run wherever Bytewax puts them; the incident stage waits
for every shard's share of an epoch and applies it in one fixed order. Histories of shapes
unlike the simulator's defaults, so that every rule kind, detector and shard has work.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import SpanwatchConfig
from engine.replay_run import ReplayOptions, run_replay
from replay.simulator.shape import OrgShape
from replay.simulator.simulate import SimulationSpec, simulate

SHAPES = {
    "global-mixed-logs": SimulationSpec(
        days=1,
        users=12,
        seed=41,
        kinds="all",
        shape=OrgShape(spelling="mixed", export="mixed", zones="global", batching="session"),
    ),
    "bursty-both": SimulationSpec(
        days=1, users=10, seed=7, shape=OrgShape(export="both", traffic="bursty")
    ),
}


def replay(history: Path, out: Path, workers: int, processes: int = 1) -> tuple[bytes, bytes]:
    config = SpanwatchConfig(state_dir=str(out / "state"))
    run_replay(
        config,
        ReplayOptions(
            paths=[str(history)],
            out=str(out / "incidents.jsonl"),
            notifications=str(out / "notifications.jsonl"),
            workers=workers,
            processes=processes,
        ),
    )
    return (out / "incidents.jsonl").read_bytes(), (out / "notifications.jsonl").read_bytes()


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_one_two_and_four_workers_and_two_processes_write_the_same_bytes(tmp_path, shape):
    history = tmp_path / "history.jsonl.gz"
    simulate(SHAPES[shape], history)
    runs = {}
    for workers in (1, 2, 4):
        out = tmp_path / f"w{workers}"
        out.mkdir()
        runs[workers] = replay(history, out, workers)
    (tmp_path / "p2").mkdir()
    two_processes = replay(history, tmp_path / "p2", 1, processes=2)
    log, _notes = runs[1]
    assert log.count(b"incident.opened") >= 2  # there is something to agree on
    assert runs[2] == runs[1]
    assert runs[4] == runs[1]
    assert two_processes == runs[1]
