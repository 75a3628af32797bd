"""The per-call creep test for a person working in several sessions at once: their calls
interleave within a window, and the window (the rollup's accumulators) keeps each session's
count of calls, not which call was whose. Quiet on such a person's ordinary growing and
compacted sessions, loud when their calls creep up."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from detectors.creep import CallCreep
from detectors.rollup import Accumulator

WINDOW = 300.0
AGGREGATIONS = ["p50", "distinct"]
Call = tuple[float, str, float]  # time, session, size


def session(rng: random.Random, name: str, start: float, first: float, factor) -> list[Call]:
    """One session: 2 to 90 calls a minute or two apart, the context growing by a few
    thousand tokens a call from about `first` and compacted to a tenth when it passes a
    threshold drawn between 120k and 190k; `factor(t)` scales the calls at time t."""
    compact_at = rng.uniform(120_000.0, 190_000.0)
    context, t, calls = first * rng.lognormvariate(0.0, 0.3), start, []
    for _ in range(rng.randint(2, 90)):
        calls.append((t, name, context * factor(t) * rng.lognormvariate(0.0, 0.1)))
        context += rng.uniform(1_000.0, 8_000.0)
        if context > compact_at:
            context *= 0.1
        t += rng.uniform(20.0, 150.0)
    return calls


def person(rng: random.Random, days: int, parallel: int, first: float, factor) -> list[Call]:
    """A person's calls over `days` working days of eight hours, in order: sessions start
    every few minutes to half an hour, up to `parallel` of them open at once."""
    calls: list[Call] = []
    for day in range(days):
        t, end, ends = day * 86400.0 + 9 * 3600.0, day * 86400.0 + 17 * 3600.0, [0.0]
        while t < end:
            if sum(e > t for e in ends) < parallel:
                made = session(rng, f"d{day}-{t:.0f}", t, first, factor)
                calls += made
                ends.append(made[-1][0])
            t += rng.uniform(120.0, 1800.0)
    return sorted(calls)


def windows(calls: list[Call]) -> list[tuple[float, Any]]:
    """Each 5-minute window's point as the detector gets it from the rollup."""
    rng, out = random.Random(0), []
    by_window: dict[int, list[Call]] = {}
    for call in calls:
        by_window.setdefault(int(call[0] // WINDOW), []).append(call)
    for w in sorted(by_window):
        size, sessions = Accumulator(), Accumulator()
        for _t, name, x in by_window[w]:
            size.add("p50", x, rng)
            sessions.add("distinct", name, rng)
        out.append((w * WINDOW, CallCreep.point([size, sessions], AGGREGATIONS, 0)))
    return out


def alarms(calls: list[Call]) -> list[float]:
    """The times of the windows that scored at the alert point (0.5)."""
    model, hits = CallCreep(), []
    for t, point in windows(calls):
        if model.score_one(point, t) >= 0.5:
            hits.append(t)
        model.learn_one(point, t)
    return hits


NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)  # a failing history is long to shrink


def test_people_in_parallel_growing_and_compacted_sessions_rarely_alarm():
    """A false-alarm rate, not a promise of silence: sixty people drawn at random (two to
    four sessions at once, first calls of 5k to 40k tokens), ten working days each, and at
    most one of them alarms. About one person in two hundred does in a longer draw, when
    the order matching pairs a session's large calls with another's places; why the default
    entry judges against a pooled baseline, not a person's own calls alone."""
    draw = random.Random(2026)
    alarmed = []
    for i in range(60):
        parallel, first = draw.randint(2, 4), draw.uniform(5_000.0, 40_000.0)
        if alarms(person(random.Random(i), 10, parallel, first, lambda t: 1.0)):
            alarmed.append((i, parallel, round(first)))
    assert len(alarmed) <= 1, alarmed


# Derandomized: about one person in two hundred alarms on ordinary calls (the false-alarm
# rate above pins that), so five draws of five people each would fail a run now and then.
@settings(max_examples=5, deadline=None, phases=NO_SHRINK, derandomize=True)
@given(
    parallel=st.integers(2, 3),  # one session at a time: test_creep.py's ramp property
    first=st.floats(2_000.0, 40_000.0),
    ramp_h=st.floats(2.0, 5.0),
    seed=st.integers(0, 1_000),
)
def test_most_people_in_parallel_sessions_whose_calls_triple_are_seen_within_hours(
    parallel, first, ramp_h, seed
):
    """Five people alike: none alarms before the creep, four at least within three hours
    of its ramp's end (a person whose day has few calls then may be seen the next day)."""
    start = 8 * 86400.0 + 10 * 3600.0  # 10:00 on the ninth day

    def factor(t: float) -> float:
        return 1.0 + 2.0 * min(1.0, max(0.0, (t - start) / (ramp_h * 3600.0)))

    seen = 0
    for person_seed in range(seed, seed + 5):
        hits = alarms(person(random.Random(person_seed), 10, parallel, first, factor))
        assert not hits or hits[0] >= start, (hits[0] - start) / 3600.0
        seen += bool(hits) and hits[0] <= start + (ramp_h + 3.0) * 3600.0
    assert seen >= 4, seen


def test_a_caller_saved_before_places_had_their_own_spread_is_judged_by_the_callers():
    calls = person(random.Random(5), 6, 2, 10_000.0, lambda t: 1.0)
    model = CallCreep()
    for t, point in windows(calls):
        model.learn_one(point, t)
    assert sum(model.scattered) > 0
    saved = {n: getattr(model, n) for n in CallCreep.__slots__ if n not in ("scatter", "scattered")}
    old = CallCreep.__new__(CallCreep)
    old.__setstate__((None, saved))
    assert old.scattered == [0] * len(model.scattered)
    assert all(old._spread(place) == model.spread for place in range(len(model.level)))
    louder = [(s, 3.0 * x) for s, x in windows(calls)[-1][1]]
    assert old.score_one(louder, 0.0) >= model.score_one(louder, 0.0)
