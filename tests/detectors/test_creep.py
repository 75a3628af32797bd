"""The per-call creep test (`kind: creep`): quiet on any stationary caller, loud on a creep,
small and picklable whatever it has seen."""

from __future__ import annotations

import doctest
import math
import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import detectors.creep
from detectors.config import DetectorSpec
from detectors.creep import CallCreep, CallCreepParams
from detectors.detectorset import DetectorSet, DetectorState
from detectors.model import Observation
from detectors.rollup import Accumulator

WINDOW = 300.0


def caller(
    rng: random.Random, mu: float, sigma: float, growth: float, windows: int, factor=None
) -> list[list[tuple[str, float]]]:
    """A caller's windows of calls: sessions of 3 to 40 calls whose log size grows by
    `growth` a call, around a lognormal of `mu`, `sigma`; `factor(w)` scales window w."""
    out, session, left, place = [], 0, 0, 0
    for w in range(windows):
        calls = []
        for _ in range(rng.randint(0, 8)):
            if left == 0:
                session, left, place = session + 1, rng.randint(3, 40), 0
            size = math.exp(mu + growth * place + rng.gauss(0.0, sigma))
            calls.append((f"s{session}", size * (factor(w) if factor else 1.0)))
            left, place = left - 1, place + 1
        out.append(calls)
    return out


def alarms(model: CallCreep, windows: list[list[tuple[str, float]]]) -> list[int]:
    """The windows that scored at the alert point (0.5)."""
    hits = []
    for w, calls in enumerate(windows):
        if calls and model.score_one(calls, w * WINDOW) >= 0.5:
            hits.append(w)
        if calls:
            model.learn_one(calls, w * WINDOW)
    return hits


@settings(max_examples=20, deadline=None)
@given(
    mu=st.floats(-3.0, 12.0),
    sigma=st.floats(0.05, 1.5),
    growth=st.sampled_from([0.0, 0.05, 0.15]),
    seed=st.integers(0, 4),
)
def test_a_stationary_caller_of_any_scale_never_alarms(mu, sigma, growth, seed):
    rng = random.Random(seed)
    windows = caller(rng, mu, sigma, growth, 1200)  # about 5,000 calls
    assert alarms(CallCreep(), windows) == []


@settings(max_examples=20, deadline=None)
@given(
    mu=st.floats(5.0, 11.0),
    sigma=st.floats(0.2, 0.8),
    growth=st.sampled_from([0.0, 0.1]),
    seed=st.integers(0, 4),
)
def test_a_caller_creeping_to_twice_their_size_alarms_within_hours(mu, sigma, growth, seed):
    rng = random.Random(seed)
    start, ramp = 400, 36  # the creep starts at window 400 and doubles over three hours

    def factor(w: int) -> float:
        return 1.0 + min(1.0, max(0.0, (w - start) / ramp))

    hits = alarms(CallCreep(), caller(rng, mu, sigma, growth, start + 100, factor))
    assert hits, "a doubling went unseen"
    assert start <= hits[0] <= start + 100, hits[0]


def test_a_caller_in_any_state_pickles_to_the_same_size_and_scores_alike():
    rng = random.Random(3)
    young, old = CallCreep(), CallCreep()
    windows = caller(rng, 8.0, 0.6, 0.1, 3000)
    alarms(young, windows[:3])
    alarms(old, windows)
    assert len(pickle.dumps(old)) <= len(pickle.dumps(young)) + 200
    copy = pickle.loads(pickle.dumps(old))
    more = caller(rng, 8.5, 0.6, 0.1, 50)
    assert alarms(copy, more) == alarms(old, more)
    assert copy.sessions == old.sessions and copy.level == old.level


def test_a_window_gives_its_calls_to_its_sessions_in_order():
    rng = random.Random(0)
    size, sessions = Accumulator(), Accumulator()
    for session, x in [("a", 1.0), ("a", 2.0), ("b", 3.0), ("b", 4.0), ("b", 5.0)]:
        size.add("p50", x, rng)
        sessions.add("distinct", session, rng)
    assert CallCreep.point([size, sessions], ["p50", "distinct"], 0) == [
        ("a", 1.0), ("a", 2.0), ("b", 3.0), ("b", 4.0), ("b", 5.0)
    ]  # fmt: skip
    size.add("p50", 6.0, rng)  # a call without a session: the window cannot tell
    assert CallCreep.point([size, sessions], ["p50", "distinct"], 0)[-1] == (None, 6.0)


def spec(**changes) -> DetectorSpec:
    base = {
        "id": "creep",
        "kind": "creep",
        "metrics": [
            {"aggregation": "p50", "field": "tokens_in"},
            {"aggregation": "distinct", "field": "session"},
        ],
        "group_by": ["user"],
        "max_keys": 5,
    }
    return DetectorSpec.model_validate({**base, **changes})


def test_a_creep_without_per_call_values_is_refused_saying_what_to_give():
    with pytest.raises(ValueError, match="aggregation: p50"):
        spec(metrics=[], aggregation="avg", field="tokens_in")


def test_the_detector_keeps_no_more_callers_than_max_keys():
    state = DetectorSet([spec()]).new_state("creep")
    assert isinstance(state, DetectorState)
    for i in range(50):
        t = 1_000_000.0 + i * 60.0
        state.update(Observation("creep", t, (f"u{i}",), None, (), (1000.0 + i, f"s{i}")))
        state.advance(t)
    assert len(state.keys) <= 5


def test_params_say_what_they_mean():
    p = CallCreepParams()
    assert p.k < 1.0 < p.h and p.min_calls > p.min_place > 0


def test_the_docstring_example_runs():
    result = doctest.testmod(detectors.creep)
    assert result.attempted > 0 and result.failed == 0
