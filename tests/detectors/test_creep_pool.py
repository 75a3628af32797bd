"""`tokens-per-call-creep` against the pooled baseline (`baseline: pooled`, the default entry).

Twelve people of one team work four days in sessions whose context grows from call to call
and is compacted; their usual prompt sizes differ up to threefold. A newcomer joins on the
third day: one whose first prompts are always more than twice anyone's opens nothing (their
own level takes over the pool's after a few calls, where judged against the pool alone they
would open incidents), one whose prompts triple over the three hours after their first hour
is found within those hours, though they have no history of their own. The pool's estimate
of how people differ (`shrink`) follows the population it is taught.
"""

from __future__ import annotations

import math
import pickle
import random
import statistics
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.config import DetectorSpec, default_detectors
from detectors.creep import CallCreep, CallCreepParams
from detectors.creep_pool import Lent, PlacePool
from detectors.detectorset import DetectorSet, DetectorState
from engine.timeutil import parse_time

MONDAY = parse_time("2026-03-02T00:00:00Z")
HOUR, DAY = 3600.0, 86400.0
NEWCOMER = "new@kaiun.jp"
JOINS = MONDAY + 2 * DAY + 9 * HOUR  # 9:00 UTC on the third day


def entry() -> DetectorSpec:
    (spec,) = [d for d in default_detectors() if d.id == "tokens-per-call-creep"]
    return DetectorSpec.model_validate(
        {**spec.model_dump(by_alias=True, exclude_unset=True), "enabled": True}
    )


def session(rng: random.Random, user: str, t: float, first: float, scale) -> list[dict]:
    """One session of 2 to 60 calls: the context grows a few thousand tokens a call and is
    compacted to a tenth past 120-190k."""
    context, compact_at, out = first * rng.lognormvariate(0.0, 0.3), rng.uniform(1.2e5, 1.9e5), []
    sid = f"{user}-{t:.0f}"
    for _ in range(rng.randint(2, 60)):
        out.append({"time": t, "name": "claude.invoke", "user": user, "team": "kaiun",
                    "session": sid, "model": "anthropic.claude-sonnet-4-5",
                    "status": "ok", "tokens_in": int(context * scale(t)), "tokens_out": 300})  # fmt: skip
        context = context + rng.uniform(1_000.0, 8_000.0)
        context = context * 0.1 if context > compact_at else context
        t += rng.uniform(20.0, 150.0)
    return out


def history(seed: int, newcomer_first: float, scale: Callable[[float], float]) -> list[dict]:
    """Four days of 9:00-17:00 UTC work; the newcomer from the third day, scaled by `scale`."""
    rng, events = random.Random(seed), []
    people = [(f"p{i}@kaiun.jp", rng.uniform(6_000.0, 18_000.0), 0) for i in range(12)]
    for user, first, from_day in [*people, (NEWCOMER, newcomer_first, 2)]:
        for day in range(from_day, 4):
            t = MONDAY + day * DAY + 9 * HOUR + rng.uniform(0.0, 1800.0)
            while t < MONDAY + day * DAY + 17 * HOUR:
                calls = session(rng, user, t, first, scale if user == NEWCOMER else lambda _t: 1.0)
                events += calls
                t = calls[-1]["time"] + rng.uniform(300.0, 2400.0)
    return sorted(events, key=lambda e: e["time"])


def opened(events: list[dict]) -> list[tuple[float, str]]:
    """(time, user) of every alert the entry opens over the events."""
    spec = entry()
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


def test_a_newcomer_whose_prompts_are_always_more_than_twice_anyones_opens_nothing():
    for seed in range(2):
        assert opened(history(seed, 40_000.0, lambda _t: 1.0)) == []


def test_a_newcomers_prompts_tripling_is_found_within_the_creep():
    start = JOINS + HOUR

    def scale(t: float) -> float:  # three hours up to three times, then so
        return 1.0 + 2.0 * min(1.0, max(0.0, (t - start) / (3 * HOUR)))

    for seed in range(2):
        alerts = opened(history(seed, 12_000.0, scale))
        assert {user for _t, user in alerts} == {NEWCOMER}, alerts
        assert start < min(t for t, _u in alerts) <= start + 4 * HOUR


@settings(max_examples=12, deadline=None)
@given(
    tau=st.floats(0.4, 1.0),
    within=st.floats(0.2, 0.6),
    seed=st.integers(0, 10_000),
)
def test_the_pools_shrink_follows_how_much_people_differ(tau: float, within: float, seed: int):
    """Callers with offsets of spread tau and calls of spread `within` about their own: the
    pool weighs a caller's own mean as w^2 / tau^2 calls (within a factor of two), learns the
    within-caller sigma, and pickles to a pool that lends the same."""
    rng, pool = random.Random(seed), PlacePool(1, min_place=300)
    offsets = [rng.gauss(0.0, tau) for _ in range(40)]
    means = [0.0] * len(offsets)
    for n in range(6_000):
        i = n % len(offsets)
        y = 9.0 + offsets[i] + rng.gauss(0.0, within)
        known = n >= 20 * len(offsets)
        pool.learn(0, y, y - pool.level[0] - means[i] if known else None, clip=4.0)
        means[i] += ((y - pool.level[0]) - means[i]) / (n // len(offsets) + 1)
    lent = pool.lend(300)
    assert lent is not None and lent.places[0] is not None
    _level, sigma, shrink = lent.places[0]
    expected = within**2 / statistics.pvariance(offsets)  # the offsets drawn, not tau
    assert expected / 2 <= shrink <= expected * 2, (shrink, expected)
    assert math.isclose(sigma, within, rel_tol=0.25)
    assert pickle.loads(pickle.dumps(pool)).lend(300) == lent


def test_a_burst_of_like_calls_counts_as_the_callers_usual_pace_a_creep_at_that_pace_does_not():
    """Calls a sigma and a half above the caller's level: 200 of them in one window (a
    runaway loop of fresh sessions) weigh as three windows' worth of the caller's five calls
    and open nothing; at five a window, they add up to an alert within two hours."""
    params = CallCreepParams(baseline="pooled", h=20.0)  # as the default entry
    lent = Lent(((9.0, 0.5, 10.0),) + (None,) * (len(CallCreep().level) - 1))

    def caller() -> CallCreep:
        """A caller of two hundred calls at the pool's level, five a window."""
        m = CallCreep(params)
        for w in range(40):
            m.lent = lent
            m.learn_one([(f"o{w}-{i}", math.exp(9.0)) for i in range(5)], w * 300.0)
        return m

    high = math.exp(9.0 + 1.5 * 0.5)  # each call 1.5 sigmas above the level
    assert caller().pace == 5.0
    burst = [(f"b{i}", high) for i in range(200)]
    assert caller().score_one(burst, 0.0) < 0.5
    m, scores = caller(), []
    for w in range(40, 64):
        calls = [(f"s{w}-{i}", high) for i in range(5)]
        scores.append(m.score_one(calls, w * 300.0))
        m.learn_one(calls, w * 300.0)
        m.lent = lent  # the pool as it was (a test of the caller's sum alone)
    assert max(scores) >= 0.5
