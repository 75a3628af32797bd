"""A keyed shard restored from a snapshot runs on the detectors and rules the engine was
started with: a detector whose alerting changed keeps what it learned and alerts as now
configured, one that learns differently (or is new) starts over, one removed is gone; a
correlation keeps its window when what it aggregates is unchanged and takes the new spec."""

from __future__ import annotations

import pickle
from typing import Any

from detectors.detectorset import DetectorState
from detectors.model import Observation
from engine.config import SpanwatchConfig
from engine.flow.run_setup import RunSetup, ShardState

T0 = 1_764_064_800.0  # 2025-11-25T10:00:00Z


def detector(ident: str, **changes: Any) -> dict[str, Any]:
    spec = {"id": ident, "kind": "ewma", "interval": "1m", "group_by": ["user"], "warmup": "0s"}
    return {**spec, **changes}


def setup(*detectors: dict[str, Any]) -> RunSetup:
    return RunSetup(
        SpanwatchConfig.model_validate({"detectors": list(detectors), "stream": {"shards": 1}})
    )


def learned(run: RunSetup, state: ShardState, ident: str) -> None:
    """A few windows of one user's events: the detector has a model for that user."""
    for minute in range(5):
        item = Observation(ident, T0 + 60 * minute, ("ada",), 1.0)
        state.apply([item], T0 + 60 * (minute + 1), run.quarantine)


def restored(saved: ShardState, run: RunSetup, shard: str) -> ShardState:
    state: ShardState = pickle.loads(pickle.dumps(saved))
    state.sync(run, shard)
    return state


def test_a_restart_keeps_what_detectors_learned_unless_they_learn_differently():
    before = setup(detector("kept"), detector("relearn"), detector("gone"))
    [shard] = {before.det_shard[d] for d in ("kept", "relearn", "gone")}
    saved = before.new_shard_state(shard)
    for ident in ("kept", "relearn", "gone"):
        learned(before, saved, ident)
    after = setup(
        detector("kept", severity="critical", labels={"team": "core"}),
        detector("relearn", interval="5m"),
        detector("new"),
    )
    state = restored(saved, after, shard)
    assert sorted(state.detectors) == ["compliance-drift", "kept", "new", "relearn"]
    kept, relearn = state.detectors["kept"], state.detectors["relearn"]
    assert isinstance(kept, DetectorState) and isinstance(relearn, DetectorState)
    assert kept.d == after.detectors.compiled("kept")
    assert kept.d.severity == "critical" and kept.keys  # the model for ada is still there
    assert relearn.d.interval == 300.0 and not relearn.keys


def test_the_same_configuration_keeps_the_state_as_it_was():
    run = setup(detector("kept"))
    shard = run.det_shard["kept"]
    saved = run.new_shard_state(shard)
    learned(run, saved, "kept")
    again = setup(detector("kept"))
    state = restored(saved, again, shard)
    assert list(state.detectors) == list(saved.detectors)
    for ident, kept in state.detectors.items():
        was = vars(saved.detectors[ident])
        assert {k: pickle.dumps(v) for k, v in vars(kept).items()} == {
            k: pickle.dumps(v) for k, v in was.items()
        }
