"""The shared move statistic: several people doing at once what each of them seldom does.

Properties: the tail probability is the Poisson-binomial's (checked against enumeration); one
person on never scores, however seldom they are; people whose habit it is are expected on and
never score; more people on never scores less; a move's first windows do not teach the rates
it is judged by (`hold`).
"""

from __future__ import annotations

import itertools
import math
import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.shared_move import SharedMove, SharedMoveParams, tail_probability

STEP = 300.0
PARAMS = SharedMoveParams()


@settings(max_examples=60, deadline=None)
@given(rates=st.lists(st.floats(0.0, 1.0), min_size=0, max_size=7), at_least=st.integers(0, 8))
def test_the_tail_is_the_chance_of_as_many_or_more(rates, at_least):
    exact = 0.0
    for outcome in itertools.product((0, 1), repeat=len(rates)):
        if sum(outcome) >= at_least:
            exact += math.prod(p if o else 1.0 - p for p, o in zip(rates, outcome, strict=True))
    assert tail_probability(rates, at_least) == pytest.approx(exact, abs=1e-12)


def team(seed: int, people: int, habitual: int, windows: int = 600) -> tuple[SharedMove, float]:
    """A team that learned `windows` windows: `habitual` of its people always on the dear
    model, the others on it in about one window of two hundred."""
    rng = random.Random(seed)
    m = SharedMove(PARAMS)
    t = 0.0
    for _ in range(windows):
        at_work = [p for p in range(people) if rng.random() < 0.6]
        calls = {f"p{p}": rng.randint(1, 6) for p in at_work}
        hits = {w: n for w, n in calls.items() if int(w[1:]) < habitual or rng.random() < 0.005}
        m.learn_one((calls, hits), t)
        t += STEP
    return m, t + PARAMS.windows * STEP  # past the last quarter hour


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), people=st.integers(2, 12), calls=st.integers(2, 40))
def test_one_person_on_never_scores(seed, people, calls):
    m, t = team(seed, people, habitual=0)
    x = ({"p0": calls, "p1": calls}, {"p0": calls})
    assert m.score_one(m.judged(x, None, None, t, 0.0), t) == 0.0


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), habitual=st.integers(2, 6), calls=st.integers(2, 40))
def test_people_whose_habit_it_is_never_score(seed, habitual, calls):
    m, t = team(seed, 8, habitual)
    on = {f"p{p}": calls for p in range(habitual)}
    x = ({**on, "p7": calls}, on)
    assert m.score_one(m.judged(x, None, None, t, 0.0), t) < 0.5


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), people=st.integers(3, 10))
def test_more_people_on_never_scores_less(seed, people):
    m, t = team(seed, people, habitual=1)
    everyone = {f"p{p}": 4 for p in range(people)}
    scores = [
        m.score_one(m.judged((everyone, dict(list(everyone.items())[:k])), None, None, t, 0.0), t)
        for k in range(people + 1)
    ]
    assert scores == sorted(scores)


@pytest.mark.parametrize("seed", range(5))
def test_a_move_of_people_who_seldom_are_on_scores_from_its_first_quarter_hour(seed):
    m, t = team(seed, 6, habitual=1)
    everyone = {f"p{p}": 4 for p in range(6)}
    for i in range(PARAMS.hold):  # as long as a window is held, the move scores
        seen = m.judged((everyone, everyone), None, None, t + i * STEP, 0.0)
        assert m.score_one(seen, t) >= 0.5
        m.learn_one((everyone, everyone), t + i * STEP)


def test_a_restored_key_judges_as_it_would_have():
    m, t = team(3, 6, habitual=1)
    everyone = {f"p{p}": 4 for p in range(6)}
    m.learn_one((everyone, everyone), t)
    restored = pickle.loads(pickle.dumps(m))
    x = (everyone, everyone)
    later = t + STEP
    assert restored.judged(x, None, None, later, 0.0) == m.judged(x, None, None, later, 0.0)
