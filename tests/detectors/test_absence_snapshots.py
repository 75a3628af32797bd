"""Absence models in snapshots written before their scalars became named fields still load
into the right fields, and go on as a model saved now does."""

from __future__ import annotations

import io
import pickle
from array import array
from pathlib import Path
from typing import Any

import pytest

from detectors.absence import Absence

# Two models pickled when a model's whole state was one float array. Both learned 12.5 days
# from 2023-11-14T22:15Z of a team busy on working days from 08:00 to 17:00-19:00, then seven
# hours of silence from Monday 10:15, still under way when saved: one with 5-minute windows
# (the silence flagged anomalous at its fourth window), one hourly with heterogeneity 3.
ONE_ARRAY_SNAPSHOT = Path(__file__).parent / "data" / "absence_models_as_one_array.pickle"
WINDOWS = {"five-minutes": 3684, "hourly-lulls": 307}
FIRST_HOUR = 1_700_000_123 // 3600
SUMS = 4 * 168


class _RawState:
    """Stands in for the model class to read a snapshot's saved state as it is."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _RawUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if name == "Absence":
            return _RawState
        return super().find_class(module, name)


def raw_arrays() -> dict[str, Any]:
    raw = _RawUnpickler(io.BytesIO(ONE_ARRAY_SNAPSHOT.read_bytes())).load()
    return {name: r.state for name, r in raw.items()}


@pytest.mark.parametrize("name", sorted(WINDOWS))
def test_a_model_saved_as_one_array_loads_each_value_into_its_named_field(name):
    saved: Absence = pickle.loads(ONE_ARRAY_SNAPSHOT.read_bytes())[name]
    a, _ = raw_arrays()[name]
    st = saved.stats
    assert saved.cells[:SUMS].tobytes() == a[:SUMS].tobytes()
    # people were not counted then: each active window is taken to have held one person
    assert saved.cells[SUMS:].tobytes() == a[168:336].tobytes()
    assert st.points == WINDOWS[name] and st.first_hour == FIRST_HOUR
    assert st.run_windows == 7 * 3600 / saved.p.step  # the silence under way
    assert st.run_hazard > 0.0 and 0.0 <= st.day_start < 24.0
    assert st.day_start_at > st.first_hour and st.day_began > st.day_start_at
    assert st.day == (st.day_began - st.day_start) / 24.0
    assert st.end_weight[0] > 1.0 and st.end_weight[1] == 0.0  # working days ended; no weekend
    assert 17.0 <= (st.end_mean[0] + st.day_start) % 24.0 <= 19.5  # the day ends, UTC
    assert (st.anomalous, st.flagged_at) == ((1.0, 4.0) if name == "five-minutes" else (0, 0))
    named = [getattr(st, f) for f, _ in type(st)._fields_[:13]]
    for f, _ in type(st)._fields_[13:16]:  # the day ends; later fields were not saved then
        named.extend(getattr(st, f))
    # every value, in the order it was saved
    assert array("f", named).tobytes() == a[SUMS:].tobytes()


@pytest.mark.parametrize("name", sorted(WINDOWS))
def test_a_model_saved_as_one_array_goes_on_as_the_same_model_saved_now(name):
    saved: Absence = pickle.loads(ONE_ARRAY_SNAPSHOT.read_bytes())[name]
    now: Absence = pickle.loads(pickle.dumps(saved))
    assert len(now.__getstate__()) == 3  # saved again, it is saved as sums, scalars, params
    t = (saved.stats.first_hour + 24 * 13) * 3600.0
    for j, x in enumerate([0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 1.0] * 40):
        at = t + j * saved.p.step
        assert saved.score_one(x, at) == now.score_one(x, at)
        assert saved.describe(x, at) == now.describe(x, at)
        saved.learn_one(x, at)
        now.learn_one(x, at)
    assert bytes(saved.stats) == bytes(now.stats)
    assert saved.cells.tobytes() == now.cells.tobytes()


def test_a_model_saved_as_a_shorter_array_keeps_what_it_had_and_starts_the_rest_fresh():
    a, p = raw_arrays()["hourly-lulls"]
    old = Absence.__new__(Absence)
    old.__setstate__((a[: SUMS + 8], p))  # before the end-of-day fields
    assert old.stats.points == 307 and old.stats.first_hour == FIRST_HOUR
    assert old.stats.day == -1.0 and old.stats.end_weight[0] == 0.0
    t = (FIRST_HOUR + 24 * 13) * 3600.0
    assert 0.0 <= old.score_one(0.0, t) <= 1.0
    old.learn_one(0.0, t)
    assert pickle.loads(pickle.dumps(old)).describe(0.0, t) == old.describe(0.0, t)
