"""The likelihood detector as the dataflow runs it: per key, one-sided, in a snapshot."""

from __future__ import annotations

import pickle

from detectors import Observation
from tests.detectors.test_detectorset import MONDAY, STEP, one, spike_run


def test_the_likelihood_detector_runs_per_key_one_sided_without_a_quiet_period():
    """In the dataflow a lasting problem must keep scoring (`for: 2`), one key's runaway
    opens one alert for that key alone, and the state snapshots and resumes like any other
    detector's."""
    ds = one(
        kind="likelihood",
        filter={"name": "claude.invoke"},
        group_by=["user"],
        parent_by=["team"],
        params={"direction": "up", "refractory": 0},
        keep_firing_for=2,
        **{"for": 2},
    )
    state = ds.new_state("d")
    signals = spike_run(ds, state)
    assert {s.group["user"] for s in signals} == {"u3"}, "nobody else is anomalous"
    firing = [s for s in signals if s.firing]
    spike = MONDAY + 8 * 86400 + 10 * 3600
    assert spike < firing[0].time <= spike + 3 * STEP
    assert len([s for s in signals if not s.firing]) == 1
    assert 0.5 <= firing[0].score <= 1.0 and firing[0].evidence["value"] == 40.0
    copy = pickle.loads(pickle.dumps(state))
    quiet = MONDAY + 9 * 86400 + 3600
    for st in (state, copy):
        st.update(Observation("d", quiet, ("u3",), None, parent=("t1",)))
    assert state.advance(quiet + 2 * STEP) == copy.advance(quiet + 2 * STEP)
