"""Properties of the absence model's evidence for a silence, over teams of any shape: within
the day a silence began in, its evidence only grows as it goes on (an hour at which the team
usually pauses adds nothing and takes nothing away), and the model's state stays the same
small size, finite, whatever it has seen."""

from __future__ import annotations

import ctypes
import math
import pickle
import random

from hypothesis import example, given, settings
from hypothesis import strategies as st

from detectors.absence import Absence, AbsenceParams, AbsenceStats

SUNDAY = 1793491200.0  # 2026-11-01T00:00:00Z
HOUR, DAY, STEP = 3600.0, 86400.0, 300.0


def team_history(m: Absence, rng: random.Random, shape: dict, days: int) -> float:
    """`days` of a team working in its own time zone, with a usual pause; the time after."""
    t = SUNDAY
    for _ in range(days * 288):
        local = ((t / HOUR + shape["offset"]) % 24.0, int((t / HOUR + shape["offset"]) // 24))
        hour, weekday = local[0], (local[1] + 3) % 7  # 1970-01-01 was a Thursday
        working = weekday < 5 and shape["begin"] <= hour < shape["end"]
        pausing = shape["pause"] <= hour < shape["pause"] + shape["pause_hours"]
        busy = working and not pausing and rng.random() < shape["busy"]
        m.learn_one(float(rng.randint(1, shape["size"])) if busy else 0.0, t)
        t += STEP
    return t


shapes = st.fixed_dictionaries(
    {
        "offset": st.sampled_from([-10.0, -8.0, -5.0, 0.0, 1.0, 5.5, 9.0, 12.0]),
        "begin": st.floats(6.0, 10.0),
        "end": st.floats(16.0, 21.0),
        "pause": st.floats(11.0, 14.0),
        "pause_hours": st.floats(0.25, 1.5),
        "busy": st.floats(0.2, 0.98),
        "size": st.integers(1, 40),
    }
)


LUNCH_AT_NOON = {"offset": 0.0, "begin": 8.0, "end": 18.0, "pause": 12.0, "pause_hours": 1.0}


@settings(max_examples=20, deadline=None)
@given(shape=shapes, days=st.integers(3, 10), start=st.integers(0, 287), seed=st.integers(0, 99))
@example(shape={**LUNCH_AT_NOON, "busy": 0.9, "size": 10}, days=8, start=138, seed=1)  # 11:30
def test_within_its_day_a_silences_evidence_never_shrinks_as_it_goes_on(shape, days, start, seed):
    m = Absence(AbsenceParams(surprise=9, heterogeneity=7))
    t = team_history(m, random.Random(seed), shape, days)
    m.learn_one(3.0, t + start * STEP)  # the day has begun: the team was active
    t += (start + 1) * STEP
    day = m._day_of(t - STEP)
    hazard = surprise = 0.0
    while m._day_of(t) == day:
        now = m.surprise(0.0, t)
        assert now >= surprise - 1e-9
        m.learn_one(0.0, t)
        assert m.stats.run_hazard >= hazard - 1e-6  # stored as float32
        hazard, surprise = m.stats.run_hazard, now
        t += STEP


@settings(max_examples=20, deadline=None)
@given(
    spells=st.lists(
        st.tuples(st.integers(0, 2000), st.integers(0, 300), st.floats(0.0, 1e9)),
        min_size=1,
        max_size=20,
    ),
    first=st.floats(0.0, 5e9),
    step=st.sampled_from([60.0, 300.0, 3600.0]),
)
def test_the_state_keeps_its_size_and_stays_finite_whatever_it_has_seen(spells, first, step):
    """Long silences, long busy spells, huge counts, any start: the same fixed-size state."""
    m = Absence(AbsenceParams(step=step))
    size = len(pickle.dumps(m))
    t = first - first % step
    for silent, busy, count in spells:
        for k in range(silent + busy):
            x = 0.0 if k < silent else count
            assert math.isfinite(m.score_one(x, t)) and 0.0 <= m.score_one(x, t) <= 1.0
            m.learn_one(x, t)
            t += step
    assert len(pickle.dumps(m)) == size
    assert len(bytes(m.stats)) == ctypes.sizeof(AbsenceStats)
    assert all(math.isfinite(v) for v in m.cells)
    for name, _ in AbsenceStats._fields_:
        value = getattr(m.stats, name)
        assert all(map(math.isfinite, value if not isinstance(value, float) else [value])), name
