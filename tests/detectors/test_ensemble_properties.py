"""Properties of the default scoring detector over series of any scale, offset and memory:
noise stays quiet, a planted spike or level shift is found at once, state stays small."""

from __future__ import annotations

import math
import pickle
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.ensemble import Ensemble

N = 3000
STEP = 300.0

series = st.fixed_dictionaries(
    {
        "seed": st.integers(min_value=0, max_value=2**32),
        "scale": st.floats(min_value=1e-3, max_value=1e6),
        "offset": st.floats(min_value=-1e6, max_value=1e6),
        "phi": st.floats(min_value=0.0, max_value=0.8),
    }
)


def noise(seed: int, scale: float, offset: float, phi: float) -> list[float]:
    """AR(1) noise of unit marginal spread, scaled and shifted."""
    rng, e, out = random.Random(seed), 0.0, []
    for _ in range(N):
        e = phi * e + math.sqrt(1.0 - phi * phi) * rng.gauss(0.0, 1.0)
        out.append(offset + scale * e)
    return out


def scores(xs: list[float]) -> tuple[Ensemble, list[float]]:
    m, out = Ensemble(), []
    for i, x in enumerate(xs):
        out.append(m.score_one(x, i * STEP))
        m.learn_one(x, i * STEP)
    return m, out


def alarms(ss: list[float]) -> list[int]:
    return [i for i, s in enumerate(ss) if s >= 0.5]


@settings(max_examples=12, deadline=None)
@given(series)
def test_noise_stays_quiet_and_the_state_stays_small(s):
    """At most two alarms in 3,000 points of noise (the tail probability at the alert point
    is 1e-5 per test; the quiet period keeps what follows a chance excursion quiet)."""
    m, ss = scores(noise(**s))
    assert len(alarms(ss)) <= 2
    assert len(pickle.dumps(m)) < 16_000


@settings(max_examples=12, deadline=None)
@given(series, st.floats(min_value=12.0, max_value=60.0), st.sampled_from([1.0, -1.0]))
def test_a_planted_spike_is_found_on_its_point(s, size, sign):
    xs = noise(**s)
    xs[2200] += sign * size * s["scale"]
    _, ss = scores(xs)
    assert ss[2200] >= 0.5


def assert_step_found_within_three_points_once(xs: list[float], step: float) -> None:
    """Plant a step of `step` from point 2200 on; it must alarm within three points, at most
    three times (announced once, not along the new level)."""
    for i in range(2200, N):
        xs[i] += step
    _, ss = scores(xs)
    fired = [i for i in alarms(ss) if i >= 2200]
    assert fired and fired[0] <= 2202
    assert len(fired) <= 3


@settings(max_examples=12, deadline=None)
@given(series, st.floats(min_value=8.0, max_value=40.0), st.sampled_from([1.0, -1.0]))
def test_a_planted_level_shift_is_found_within_three_points_and_announced_once(s, size, sign):
    """From 8 standard deviations. A single point must pass the largest score of its quiet
    period by a margin, so a step whose first point lands a little low was missed (an 8-sd
    step on about 6% of noise draws); the level shift vote, the mean of three points, finds
    it. Measured over 200 draws of this strategy's shape (two seeds): 8 sd missed on none,
    7 sd on none, 6 sd on 5 (strongly autocorrelated noise, phi above 0.5)."""
    xs = noise(**s)
    assert_step_found_within_three_points_once(xs, sign * size * s["scale"])


@settings(max_examples=8, deadline=None)
@given(series, st.floats(min_value=12.0, max_value=60.0))
def test_the_score_is_the_loudest_vote_unless_it_repeats(s, size):
    """Each vote's score lies in [0, 1] and the score is their largest, so the votes say
    which test raised an alarm, unless that largest does not pass every such largest of the
    last `repeat` points: then it is 0. A planted spike is raised by a vote that sees single
    points."""
    xs = noise(**s)
    xs[2200] += size * s["scale"]
    m = Ensemble()
    loudest: list[float] = []
    for i, x in enumerate(xs[:2201]):
        votes = m.votes(x, i * STEP)
        assert all(0.0 <= v <= 1.0 for v in votes.values())
        top = min(1.0, max(votes.values()))
        recent = loudest[-m.p.repeat :]
        assert m.score_one(x, i * STEP) == (top if not recent or top > max(recent) else 0.0)
        loudest.append(top)
        if i == 2200:
            assert max(votes, key=votes.__getitem__) in {"likelihood", "gaussian"}
            assert max(votes.values()) >= 0.5
        m.learn_one(x, i * STEP)


def _step_after_spike_found(draw: random.Random) -> bool:
    """One draw: noise (phi up to 0.5), a spike of 30-300 sd, a 6-8 sd step 600-900 points
    later; whether the step alarms within three points, at most three times."""
    s = {
        "seed": draw.randrange(2**32),
        "scale": 10 ** draw.uniform(-3.0, 6.0),
        "offset": draw.uniform(-1e6, 1e6),
        "phi": draw.uniform(0.0, 0.5),
    }
    sign = draw.choice([1.0, -1.0])
    xs = noise(**s)
    xs[2200 - draw.randint(600, 900)] += sign * draw.uniform(30.0, 300.0) * s["scale"]
    try:
        assert_step_found_within_three_points_once(xs, sign * draw.uniform(6.0, 8.0) * s["scale"])
    except AssertionError:
        return False
    return True


def test_a_spike_that_has_left_the_quiet_period_does_not_blunt_the_next_level_shift():
    """The level shift vote's spread of the mean is winsorised: a spike of 50 sd once more
    than doubled it for hundreds of points, and a 6-sd step 700 points later was missed on
    10 of 20 noise draws (phi 0.3). Now a step is missed on about 1 draw in 130 (3 of 400
    seeded draws as here; a 6-7 sd step whose first points land low): a rate, so it is pinned
    as one over 40 seeded draws, at most one in twenty missed."""
    missed = sum(not _step_after_spike_found(random.Random(k)) for k in range(40))
    assert missed <= 2
