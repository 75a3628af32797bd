"""A keyed shard takes each epoch's inputs as a batch (each detector its observations in one
call); what it finds is what taking the inputs one at a time finds, hit for hit and in the
same order, over simulated organisations of different shapes. Scoring only the windows that
can alert changes nothing either: a shard that scores every window (as a backtest report
makes it) raises the same hits."""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from detectors.model import Observation
from detectors.recent import RecentPoints
from engine.config import SpanwatchConfig
from engine.flow.run_setup import RunSetup, ShardState, rule_hit, signal_hit
from engine.incidents.model import Hit
from engine.otlp.line_decoder import decode_line
from replay.simulator.shape import OrgShape
from replay.simulator.simulate import SimulationSpec, simulate

EPOCH = 120.0  # seconds of event time: four times the default `stream.tick`, larger batches

SHAPES = {
    "spans-seed-3": SimulationSpec(days=2, users=16, seed=3),
    "mixed-global-seed-11": SimulationSpec(
        days=2,
        users=12,
        seed=11,
        kinds="all",
        shape=OrgShape(spelling="mixed", export="both", zones="global", batching="session"),
    ),
    "logs-bursty-seed-29": SimulationSpec(
        days=2, users=12, seed=29, shape=OrgShape(export="logs", traffic="bursty")
    ),
}


def decoded(setup: RunSetup, path: Path) -> list[dict[str, Any]]:
    with gzip.open(path) as lines:
        events = [e for line in lines for e in decode_line(line, setup.aliases)]
    return sorted(events, key=lambda e: e["time"])


def epochs(
    setup: RunSetup, events: list[dict[str, Any]]
) -> Iterator[tuple[float, dict[str, list[Any]]]]:
    """(watermark, each shard's inputs) per epoch of the history, in event-time order."""
    index, shares = None, {}
    for event in events:
        at = math.floor(event["time"] / EPOCH)
        if at != index:
            if index is not None:
                yield (index + 1) * EPOCH, shares
            index, shares = at, {}
        for shard, item in setup.match(event)[1]:
            shares.setdefault(shard, []).append(item)
    if index is not None:
        yield (index + 1) * EPOCH, shares


def one_at_a_time(state: ShardState, items: list[Any]) -> list[Hit]:
    """The reference: each input into its own detector or correlation window, in turn."""
    hits: list[Hit] = []
    for item in items:
        if isinstance(item, Observation):
            hits += [signal_hit(s) for s in state.detectors[item.detector_id].update(item)]
        else:
            hits += [rule_hit(h) for h in state.correlations[item.correlation_id].update(item)]
    return hits


def run(
    setup: RunSetup, events: list[dict[str, Any]], *, one_by_one: bool, report: bool
) -> list[dict[str, Any]]:
    """Every hit of every shard, epoch by epoch, as the incident stage would receive them."""
    states: dict[str, ShardState] = {}
    for shard in setup.shard_names:
        states[shard] = setup.new_shard_state(shard)
        if report:
            for detector in states[shard].detectors.values():
                detector.recent = RecentPoints()
    hits: list[dict[str, Any]] = []
    for watermark, shares in epochs(setup, events):
        for shard in setup.shard_names:
            state, items = states[shard], shares.get(shard, [])
            if one_by_one:
                hits += [vars(h) for h in one_at_a_time(state, items)]
                items = []
            hits += [vars(h) for h in state.apply(items, watermark, setup.quarantine)]
    stats = {shard: state.stats() for shard, state in states.items()}
    return [*hits, stats]


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_a_batched_epoch_finds_what_its_inputs_one_by_one_find(name, tmp_path):
    history = tmp_path / "history.jsonl.gz"
    simulate(SHAPES[name], history)
    setup = RunSetup(SpanwatchConfig(state_dir=str(tmp_path / "state")))
    events = decoded(setup, history)
    batched = run(setup, events, one_by_one=False, report=False)
    sources = {h["source"] for h in batched[:-1]}
    assert sources == {"rule", "detector"}, "the history raises detector and correlation hits"
    assert batched == run(setup, events, one_by_one=True, report=False)
    if name == "spans-seed-3":  # a report describes every window: the slowest of the three
        assert batched == run(setup, events, one_by_one=False, report=True)
    assert setup.quarantine.total == 0
