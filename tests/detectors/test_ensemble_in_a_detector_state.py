"""The ensemble detector as the dataflow runs it: per key, one-sided, in a snapshot."""

from __future__ import annotations

import pickle

from detectors import Observation
from tests.detectors.test_detectorset import MONDAY, STEP, one, spike_run


def test_the_ensemble_runs_per_key_one_sided_and_resumes_from_a_snapshot():
    """Configured like any detector kind: one key's runaway opens one alert for that key
    alone, its evidence names both tests, and the state snapshots and resumes."""
    ds = one(
        kind="ensemble",
        filter={"name": "claude.invoke"},
        group_by=["user"],
        parent_by=["team"],
        params={"direction": "up", "refractory": 0, "gauss_window": 200},
        keep_firing_for=2,
        **{"for": 2},
    )
    state = ds.new_state("d")
    signals = spike_run(ds, state)
    assert {s.group["user"] for s in signals} == {"u3"}, "nobody else is anomalous"
    firing = [s for s in signals if s.firing]
    spike = MONDAY + 8 * 86400 + 10 * 3600
    assert spike < firing[0].time <= spike + 3 * STEP
    assert 0.5 <= firing[0].score <= 1.0 and firing[0].evidence["value"] == 40.0
    assert firing[0].evidence["window_tail_probability"] < 1e-5
    copy = pickle.loads(pickle.dumps(state))
    quiet = MONDAY + 9 * 86400 + 3600
    for st in (state, copy):
        st.update(Observation("d", quiet, ("u3",), None, parent=("t1",)))
    assert state.advance(quiet + 2 * STEP) == copy.advance(quiet + 2 * STEP)
