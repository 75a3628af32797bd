"""The per-call creep test judged session by session: a caller is judged from their tenth
session on, and a detector state carries a caller's sessions across a snapshot."""

from __future__ import annotations

import math
import pickle
import random

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from detectors.config import DetectorSpec
from detectors.creep import CallCreep, CallCreepParams
from detectors.detectorset import DetectorSet, DetectorState
from detectors.model import Observation, Signal

WINDOW = 300.0
Calls = list[tuple[str, float]]


def sessions(
    rng: random.Random, mu: float, count: int, longest: int, factor=lambda s: 1.0
) -> list[Calls]:
    """`count` sessions of 2 to `longest` calls each: the context grows by a few percent a
    call from a first call around exp(mu), and is compacted to a fifth of itself when it
    passes forty times that; each session has its own level (a quarter of a log unit)."""
    out = []
    for s in range(count):
        level = mu + rng.gauss(0.0, 0.25)
        context = math.exp(level)
        calls = []
        for _ in range(rng.randint(2, longest)):
            calls.append((f"s{s}", context * factor(s) * rng.lognormvariate(0.0, 0.3)))
            context *= 1.0 + rng.uniform(0.0, 0.1)
            if context > 40.0 * math.exp(level):
                context /= 5.0
        out.append(calls)
    return out


def windows(sessions_: list[Calls], per_window: int) -> list[Calls]:
    """The sessions' calls, one session after another, cut into windows of `per_window`."""
    calls = [c for s in sessions_ for c in s]
    return [calls[i : i + per_window] for i in range(0, len(calls), per_window)]


def alarms(model: CallCreep, windows_: list[Calls]) -> list[int]:
    hits = []
    for w, calls in enumerate(windows_):
        if model.score_one(calls, w * WINDOW) >= 0.5:
            hits.append(w)
        model.learn_one(calls, w * WINDOW)
    return hits


NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)  # a failing history is long to shrink


@settings(max_examples=20, deadline=None, phases=NO_SHRINK)
@given(started=st.integers(1, 8), seed=st.integers(0, 6))
def test_a_caller_is_not_judged_before_their_tenth_session(started, seed):
    """However many calls a few long sessions hold, a session of calls ten times larger and
    more (the caller's ninth at most) is not judged; the same session after thirty is."""
    rng = random.Random(seed)
    jump = [("jump", 1e7)] * 80
    assert alarms(CallCreep(), windows([*sessions(rng, 8.0, started, 200), jump], 5)) == []
    assert alarms(CallCreep(), windows([*sessions(rng, 8.0, 30, 20), jump], 5))


def test_a_caller_saved_before_sessions_were_counted_is_still_judged():
    rng = random.Random(4)
    model = CallCreep()
    alarms(model, windows(sessions(rng, 8.0, 40, 20), 5))
    saved = {name: getattr(model, name) for name in CallCreep.__slots__ if name != "started"}
    old = CallCreep.__new__(CallCreep)
    old.__setstate__((None, saved))
    assert old.started == CallCreepParams().min_sessions and old.is_warm(0.0, 0.0)
    assert CallCreep().started == 0


def spec() -> DetectorSpec:
    return DetectorSpec.model_validate(
        {
            "id": "creep",
            "kind": "creep",
            "metrics": [
                {"aggregation": "p50", "field": "tokens_in"},
                {"aggregation": "distinct", "field": "session"},
            ],
            "group_by": ["team", "user"],
            "interval": "5m",
            "warmup": "0s",
        }
    )


def observations(seed: int) -> list[Observation]:
    """Two people of one team over three days; one of them triples on the third."""
    rng = random.Random(seed)
    out, t0 = [], 1_767_225_600.0  # 2026-01-01 00:00 UTC
    for user in ("ana", "bo"):
        t = t0
        creep = (lambda s: 3.0 if s >= 50 else 1.0) if user == "bo" else (lambda s: 1.0)
        for s, calls in enumerate(sessions(rng, 8.0, 70, 30, creep)):
            for _session, size in calls:
                out.append(Observation("creep", t, ("t", user), None, (), (size, f"{user}{s}")))
                t += 90.0
            t += 1200.0  # a pause shorter than the creep entry's session_gap
    out.sort(key=lambda o: o.time)
    return out


def feed(state: DetectorState, obs: list[Observation]) -> list[Signal]:
    signals = []
    for o in obs:
        signals += state.advance(o.time)
        state.update(o)
    return signals


def test_a_snapshot_taken_in_the_middle_of_sessions_gives_the_same_alerts_after_a_restart():
    obs = observations(3)
    straight = DetectorSet([spec()]).new_state("creep")
    assert isinstance(straight, DetectorState)
    expected = feed(straight, obs)
    assert any(s.firing and s.group["user"] == "bo" for s in expected)
    state = DetectorSet([spec()]).new_state("creep")
    assert isinstance(state, DetectorState)
    half = len(obs) // 2
    got = feed(state, obs[:half])
    restarted = pickle.loads(pickle.dumps(state))
    got += feed(restarted, obs[half:])
    assert [(s.time, s.group, s.firing, s.score) for s in got] == [
        (s.time, s.group, s.firing, s.score) for s in expected
    ]
