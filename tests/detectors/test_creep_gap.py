"""A caller's sessions after a gap in their calls (`session_gap`): telemetry that stopped while
people worked on hides the calls that grew their sessions' context, and the sessions begun
meanwhile are first seen well past their first call. The sessions open at the gap, and those
first seen in the window after it, are then of unknown place: their calls are counted, but
neither judged nor learnt."""

from __future__ import annotations

import math
import random
import statistics

from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st

from detectors.config import DetectorSpec
from detectors.creep import CallCreep, CallCreepParams
from detectors.detectorset import DetectorSet, DetectorState
from tests.detectors.test_creep_pool import DAY, HOUR, MONDAY, entry, history

WINDOW = 300.0
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)  # a failing history is long to shrink
Calls = list[tuple[str, float]]


def workday(
    rng: random.Random, hours: float, factor=lambda t: 1.0, longest: int = 60
) -> list[tuple[float, str, float]]:
    """A caller's calls over `hours`, one a minute, in sessions of 10 to `longest` calls one
    after another: each session's context starts around e^8 tokens and grows by a few percent
    a call, and is compacted to a fifth when it passes forty times its start. `factor(t)`
    scales the calls at time t (a creep)."""
    out, t, s = [], 0.0, 0
    while t < hours * HOUR:
        start = context = math.exp(8.0 + rng.gauss(0.0, 0.25))
        for _ in range(rng.randint(10, longest)):
            out.append((t, f"s{s}", context * factor(t) * rng.lognormvariate(0.0, 0.3)))
            context *= 1.0 + rng.uniform(0.0, 0.08)
            context = context / 5.0 if context > 40.0 * start else context
            t += 60.0
        s += 1
    return out


def windows(
    calls: list[tuple[float, str, float]], unseen=lambda t: False
) -> list[tuple[float, Calls]]:
    """The calls cut into 5-minute windows, leaving out those `unseen` (telemetry lost)."""
    out: dict[float, Calls] = {}
    for t, session, size in calls:
        if not unseen(t):
            out.setdefault(t // WINDOW * WINDOW, []).append((session, size))
    return sorted(out.items())


def alarms(model: CallCreep, windows_: list[tuple[float, Calls]]) -> list[float]:
    hits = []
    for t, calls in windows_:
        if model.score_one(calls, t) >= 0.5:
            hits.append(t)
        model.learn_one(calls, t)
    return hits


def never() -> CallCreep:
    """A caller's model whose sessions keep their counted places whatever the gap."""
    return CallCreep(CallCreepParams(session_gap=1e12))


@settings(max_examples=15, deadline=None, phases=NO_SHRINK)
@given(seed=st.integers(0, 1000), hours=st.floats(5.0, 20.0))
def test_without_a_gap_the_places_are_as_counted(seed, hours):
    """Windows closer together than `session_gap` score and learn exactly as if gaps were
    never looked at."""
    ws = windows(workday(random.Random(seed), hours))
    with_gap, without = CallCreep(), never()
    for t, calls in ws:
        assert with_gap.score_one(calls, t) == without.score_one(calls, t)
        with_gap.learn_one(calls, t)
        without.learn_one(calls, t)
    assert with_gap.sessions == without.sessions and with_gap.level == without.level


@settings(max_examples=15, deadline=None, phases=NO_SHRINK)
@given(seed=st.integers(0, 1000), away=st.floats(1800.0, 3 * 86400.0))
def test_after_a_gap_open_sessions_and_those_then_begun_are_not_judged(seed, away):
    """After `session_gap` without a call, calls twenty times the caller's usual, of a session
    open before the gap or first seen in the window after it, move neither the sum nor the
    levels; a session begun in a later window is judged from its first call, those calls
    never again."""
    rng = random.Random(seed)
    model = CallCreep()
    ws = windows(workday(rng, 20.0))
    alarms(model, ws)
    assume(model.is_warm(0.0, 0.0))  # judged (not just restarted by an alarm)
    last, calls = ws[-1]
    old = calls[-1][0]
    huge = 20.0 * statistics.median(x for _t, w in ws for _s, x in w)
    back = last + WINDOW + away
    window = [(old, huge), (old, huge), ("new", huge), ("new", huge)]
    before = (model.sum, list(model.level), list(model.placed))
    assert model._peak(window, back) == 0.0  # no call of the window is judged
    model.learn_one(window, back)
    assert (model.sum, model.level, model.placed) == before
    assert model.sessions[old] < 0 and model.sessions["new"] < 0
    later = [("later", huge), (old, huge), ("later", huge)]
    placed = model._placed(later, dict(model.sessions))
    assert [value for _place, value in placed] == [huge, 0.0, huge]


def opened_with(events: list[dict], **params: float) -> list[tuple[float, str]]:
    """(time, user) of every alert the default entry (on) opens, with `params` changed."""
    raw = entry().model_dump(by_alias=True, exclude_unset=True)
    spec = DetectorSpec.model_validate({**raw, "params": {**raw.get("params", {}), **params}})
    detectors = DetectorSet([spec])
    state = detectors.new_state(spec.id)
    assert isinstance(state, DetectorState)
    out = []
    for e in events:
        observations = detectors.route(e)
        signals = state.advance(e["time"])
        state.update_many(observations)
        out += [(s.time, s.group["user"]) for s in signals if s.firing]
    return out


LOST = (MONDAY + 2 * DAY + 11 * HOUR, MONDAY + 2 * DAY + 14 * HOUR)


def telemetry_lost(seed: int) -> list[dict]:
    """A team's four working days (`test_creep_pool.history`) whose telemetry is lost from
    11:00 to 14:00 on the third while its people work on."""
    events = history(seed, 12_000.0, lambda _t: 1.0)
    return [e for e in events if not LOST[0] <= e["time"] < LOST[1]]


@settings(max_examples=4, deadline=None, phases=NO_SHRINK)
@given(seed=st.integers(0, 1000))
def test_sessions_resumed_after_lost_telemetry_are_no_creep(seed):
    assert opened_with(telemetry_lost(seed)) == []


def test_without_the_gap_the_sessions_begun_unseen_read_as_a_creep():
    """The history above tests the gap: with counted places alone, sessions that began while
    nothing was seen are taken for new ones, and open creeps as soon as the telemetry is
    back."""
    for seed in range(2):
        alerts = opened_with(telemetry_lost(seed), session_gap=1e12)
        assert alerts and all(LOST[1] <= t <= LOST[1] + HOUR for t, _user in alerts[:1])
