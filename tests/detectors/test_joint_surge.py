"""The joint surge statistic: two departures at once, each against the key's own largest.

Properties: a window that departs on one of the two (a long-context session: dear, ordinary
answers; a burst of long answers on a cheap model) never scores at the bar; the score is the
same in any unit of either metric; a surge that goes on raises its own bar by at most `ratio`
per `hold`; a newcomer is not judged.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.joint_surge import JointSurge, JointSurgeParams

STEP = 300.0
PARAMS = JointSurgeParams(settle=20, hold=6, windows=3, ratio=2.0, min_calls=3)


def ordinary(seed: int, windows: int = 60) -> tuple[JointSurge, float]:
    """A key that learned `windows` active windows of ordinary calls (heavy tailed spend,
    answers of a few hundred tokens), and a start after its last quarter hour (so a window
    judged then is the quarter hour's only one)."""
    rng = random.Random(seed)
    m = JointSurge(PARAMS)
    t = 0.0
    for _ in range(windows):
        calls = rng.randint(1, 6)
        m.learn_one(
            (calls * rng.lognormvariate(-2.0, 1.0), calls * rng.uniform(200, 900), calls), t
        )
        t += STEP * rng.choice([1, 1, 1, 2, 12])
    return m, t + PARAMS.windows * STEP


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), spend=st.floats(0.0, 1e4), calls=st.integers(1, 40))
def test_a_window_dear_only_for_its_context_never_reaches_the_bar(seed, spend, calls):
    m, t = ordinary(seed)
    per_call = m.peak_per_call  # answers as long as the key's longest, no longer
    seen = m.judged((spend, per_call * calls, float(calls)), None, None, t, 0.0)
    assert m.score_one(seen, t) < 0.5


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), length=st.floats(1.0, 1e6), calls=st.integers(1, 40))
def test_long_answers_that_cost_no_more_than_usual_never_reach_the_bar(seed, length, calls):
    m, t = ordinary(seed)
    seen = m.judged((m.peak_total, length * calls, float(calls)), None, None, t, 0.0)
    assert m.score_one(seen, t) < 0.5


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    cost_unit=st.floats(1e-3, 1e3),
    token_unit=st.floats(1e-3, 1e3),
    surge=st.floats(0.5, 20.0),
)
def test_the_score_is_the_same_in_any_unit(seed, cost_unit, token_unit, surge):
    rng = random.Random(seed)
    a, b = JointSurge(PARAMS), JointSurge(PARAMS)
    t = 0.0
    for _ in range(40):
        spend, out, calls = rng.uniform(0.01, 2.0), rng.uniform(100, 3000), rng.randint(1, 5)
        a.learn_one((spend, out, calls), t)
        b.learn_one((spend * cost_unit, out * token_unit, calls), t)
        t += STEP
    x = (surge * a.peak_total, surge * a.peak_per_call * 3, 3.0)
    y = (x[0] * cost_unit, x[1] * token_unit, 3.0)
    sa = a.score_one(a.judged(x, None, None, t, 0.0), t)
    sb = b.score_one(b.judged(y, None, None, t, 0.0), t)
    assert sa == pytest.approx(sb, rel=1e-9, abs=1e-12)


def test_a_newcomer_is_not_judged():
    m = JointSurge(PARAMS)
    for i in range(PARAMS.settle - 1):
        m.learn_one((0.1, 300.0, 2.0), i * STEP)
    t = PARAMS.settle * STEP
    assert m.score_one(m.judged((100.0, 1e6, 3.0), None, None, t, 0.0), t) == 0.0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_surge_of_few_dear_calls_reaches_the_bar_within_a_quarter_hour_and_stays(seed):
    """One or two long answers on a dear model every five minutes (five to ten times the key's
    usual hour): at the bar by the third window, and still there an hour on, its own learning
    raising the bar by at most `ratio` per `hold`."""
    m, t = ordinary(seed)
    bar_total = m.peak_total
    rng = random.Random(seed)
    scores = []
    for _ in range(12):
        calls = rng.choice([1, 2])
        x = (calls * 3.0 * bar_total, calls * 8.0 * m.peak_per_call, float(calls))
        scores.append(m.score_one(m.judged(x, None, None, t, 0.0), t))
        m.learn_one(x, t)
        t += STEP
    assert max(scores[:3]) >= 0.5
    assert sum(s >= 0.5 for s in scores) >= 9
    assert m.peak_total <= PARAMS.ratio**2 * bar_total * 3.0  # at most ratio a hold


def test_a_light_key_is_judged_against_no_less_than_the_median_key():
    """A light person's first heavy session (twice their own largest on both) is ordinary
    work for an organisation whose median person reaches four times that: no alert; the same
    window from a key of a lone organisation (no peers) does alert."""
    root = JointSurge(PARAMS)
    for i in range(PARAMS.min_peers):
        root.teach_member((f"peer{i}",), 4.0, 1200.0, PARAMS.settle)
    m = JointSurge(PARAMS)
    t = 0.0
    for _ in range(40):
        m.learn_one((0.3, 900.0, 3.0), t)
        t += STEP
    t += PARAMS.windows * STEP  # the session alone in its quarter hour
    heavy = (3.0 * m.peak_total, 3.0 * 2.5 * m.peak_per_call, 3.0)
    assert m.score_one(m.judged(heavy, None, None, t, 0.0), t) >= 0.5
    assert m.score_one(m.judged(heavy, None, root, t, 0.0), t) < 0.5
