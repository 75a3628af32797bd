"""Keyed stages on the workers chosen for them: the keys found must be routed there by Bytewax
itself, whatever the names and the number of workers."""

from __future__ import annotations

import bytewax.operators as op
import orjson
from bytewax.dataflow import Dataflow
from bytewax.run import cli_main
from bytewax.testing import TestingSource
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import SpanwatchConfig
from engine.flow.run_setup import INCIDENTS, ORDER, RunSetup
from engine.flow.worker_keys import bytewax_worker, key_on, place, routing_keys
from engine.history_sort import HistoryPart, sort_history
from replay.external_sort import ExternalSort
from replay.readers import expand_paths
from replay.simulator.simulate import SimulationSpec, simulate
from rules.model import CorrelationInput


def _routed(keys: list[str], workers: int) -> dict[str, int]:
    """Where a running Bytewax dataflow of `workers` workers puts each key's state."""
    seen: dict[str, int] = {}

    def record(_step: str, item: tuple[str, int], _epoch: int, worker: int) -> None:
        seen[item[0]] = worker

    flow = Dataflow("routing")
    keyed = op.input("in", flow, TestingSource([(k, 1) for k in keys]))
    state = op.stateful_map("state", keyed, lambda s, v: (s, v))
    op.inspect_debug("where", state, record)
    cli_main(flow, workers_per_process=workers)
    return seen


def test_hash_is_bytewax_own_over_odd_keys_and_worker_counts():
    keys = ["d0", "c3", "incidents", "order", "", "é-shard@12", "x" * 8, "y" * 17, "ü" * 9]
    for workers in (2, 3, 4):
        routed = _routed(keys, workers)
        assert routed == {k: bytewax_worker(k, workers) for k in keys}


def test_keys_found_are_routed_to_their_worker_by_bytewax():
    wanted = {f"d{i}": i % 3 for i in range(6)} | {"order": 2, "incidents": 1}
    keys = {name: key_on(name, worker, 3) for name, worker in wanted.items()}
    routed = _routed(list(keys.values()), 3)
    assert {name: routed[key] for name, key in keys.items()} == wanted


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(st.text(min_size=1, max_size=6), st.floats(0, 50), max_size=12),
    st.integers(1, 6),
)
def test_placement_balances_heaviest_first_and_keys_stay_distinct(weights, workers):
    pinned = {"\x00order": 0, "\x00incidents": 0}
    placed = place(weights, workers, pinned)
    assert placed["\x00order"] == 0 and set(placed) == set(weights) | set(pinned)
    load = [0.0] * workers
    for name, worker in placed.items():
        load[worker] += weights.get(name, 1.0)
    # greedy: no worker exceeds the lightest by more than the heaviest weight or the pinned pair
    assert max(load) - min(load) <= max([2.0, *weights.values()]) + 1e-9
    keys = routing_keys(weights, workers, pinned)
    assert len(set(keys.values())) == len(keys)
    for name, key in keys.items():
        assert bytewax_worker(key, workers) == (placed[name] if workers > 1 else 0)


def test_default_shards_spread_over_two_workers(tmp_path):
    """The default set's shards gathered on one worker by their plain names; placed, each
    worker holds shards, and order and incidents sit with the writer."""
    setup = RunSetup(SpanwatchConfig(state_dir=str(tmp_path)))
    assert setup.keys[ORDER] == ORDER  # one worker: the plain names (kept in live snapshots)
    setup.spread_over(2)
    workers = {name: bytewax_worker(key, 2) for name, key in setup.keys.items()}
    assert workers[ORDER] == workers[INCIDENTS] == 0
    assert {workers[s] for s in setup.shard_names} == {0, 1}


def test_shards_are_weighed_by_the_inputs_a_sample_of_the_history_sends_them(tmp_path):
    """A shard whose detectors observe every event outweighs one that holds more detectors of
    rarer events: placed by a sample of the history, the shard with the most inputs sits away
    from the order and incident stages, and the workers' inputs differ by at most one shard's."""
    history = tmp_path / "history.jsonl"
    simulate(SimulationSpec(days=1, users=5, seed=17, claude_code_logs=True), history)
    setup = RunSetup(SpanwatchConfig(state_dir=str(tmp_path / "state")))
    with ExternalSort(tmp_path, 1 << 24) as sorter:
        sort_history([HistoryPart(f) for f in expand_paths([str(history)])], setup, sorter)
        sample = [orjson.loads(record[1:]) for _t, record in sorter.merged()]
    inputs = dict.fromkeys(setup.shard_names, 0.0)
    for event in sample:
        for shard, item in setup.match(event)[1]:
            inputs[shard] += 0.25 if isinstance(item, CorrelationInput) else 1.0

    def imbalance() -> float:
        workers = {name: bytewax_worker(key, 2) for name, key in setup.keys.items()}
        assert workers[ORDER] == workers[INCIDENTS] == 0
        assert workers[max(inputs, key=inputs.__getitem__)] == 1
        load = [sum(v for s, v in inputs.items() if workers[s] == w) for w in (0, 1)]
        return abs(load[0] - load[1])

    setup.spread_over(2)
    by_what_they_hold = imbalance()
    setup.spread_over(2, sample)
    assert imbalance() < by_what_they_hold
    assert imbalance() <= max(inputs.values())
