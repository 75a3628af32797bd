"""The anomaly-likelihood detector: one alarm per anomaly, quiet on noise of any shape."""

from __future__ import annotations

import math
import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.likelihood import AnomalyLikelihood, ErrorTail, LikelihoodParams


def run(xs, params=None, step=300.0):
    m = AnomalyLikelihood(params or LikelihoodParams())
    out = []
    for i, x in enumerate(xs):
        out.append(m.score_one(x, i * step))
        m.learn_one(x, i * step)
    return m, out


def alarms(scores):
    return [i for i, s in enumerate(scores) if s >= 0.5]


def daily(n, rng, noise=1.0, scale=1.0, offset=0.0):
    return [
        offset + scale * (50 + 20 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, noise))
        for i in range(n)
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("scale", "offset"), [(1.0, 0.0), (1e-4, 0.0), (1e6, -3e7), (1.0, 1e9)])
def test_a_spike_raises_one_alarm_then_the_quiet_period_keeps_it_quiet(seed, scale, offset):
    rng = random.Random(seed)
    xs = daily(3000, rng, scale=scale, offset=offset)
    for i in range(2000, 2004):
        xs[i] += scale * 60
    _, scores = run(xs)
    fired = [i for i in alarms(scores) if i >= 600]
    assert fired and fired[0] == 2000
    assert all(s < 0.5 for s in scores[2001 : 2000 + LikelihoodParams().refractory])


def test_a_larger_surprise_in_a_quiet_period_still_speaks():
    rng = random.Random(6)
    xs = daily(3000, rng)
    xs[2000] += 80  # beyond the daily swing: the point test measures against the long run
    xs[2050] += 800
    _, scores = run(xs)
    assert scores[2000] >= 0.5 and scores[2050] >= 0.5
    assert max(scores[2001:2050]) < 0.3


@pytest.mark.parametrize("seed", range(4))
def test_noise_of_any_shape_stays_nearly_quiet(seed):
    rng = random.Random(seed)
    shapes = {
        "white": [rng.gauss(10, 2) for _ in range(4000)],
        "daily": daily(4000, rng),
        # on the log scale `spanwatch score` picks for a metric whose tail spans decades
        "heavy": [math.log1p(rng.lognormvariate(0, 1.0)) for _ in range(4000)],
        "walk": list(_walk(rng, 4000)),
        "counts": [float(sum(rng.random() < 0.05 for _ in range(40))) for _ in range(4000)],
    }
    for name, xs in shapes.items():
        _, scores = run(xs)
        assert len(alarms(scores[600:])) <= 2, name


def _walk(rng, n):
    x = 100.0
    for _ in range(n):
        x += rng.gauss(0, 1) - 0.002 * (x - 100)
        yield x


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_level_shift_is_caught_within_a_few_points(sign):
    rng = random.Random(5)
    xs = [rng.gauss(100, 3) + (sign * 20 if i >= 2500 else 0) for i in range(3000)]
    _, scores = run(xs)
    fired = [i for i in alarms(scores) if i >= 600]
    assert fired and 2500 <= fired[0] <= 2505


def test_state_pickles_and_scores_the_same_after():
    rng = random.Random(8)
    m, _ = run(daily(1500, rng))
    copy = pickle.loads(pickle.dumps(m))
    for i in range(1500, 1700):
        x = 50 + 20 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, 1)
        assert copy.score_one(x, i * 300.0) == m.score_one(x, i * 300.0)
        m.learn_one(x, i * 300.0)
        copy.learn_one(x, i * 300.0)


def test_the_context_table_stays_bounded():
    rng = random.Random(2)
    m, _ = run([rng.random() for _ in range(20000)], LikelihoodParams(contexts=512, bins=20))
    assert len(m.table) == 1024 and m.taken <= 512


def test_the_error_tail_learns_how_long_a_tail_is():
    """An error of 6 is rare among half-normal errors, ordinary among heavy-tailed ones."""
    rng = random.Random(4)
    light, heavy = ErrorTail(), ErrorTail()
    for _ in range(3000):
        light.learn(abs(rng.gauss(0, 1)), 1000)
        heavy.learn(rng.lognormvariate(0, 1.2), 1000)
    assert light.p(6.0) < 1e-4 < 1e-2 < heavy.p(6.0)


def test_nothing_is_scored_before_min_points():
    _, scores = run([float(i % 7) for i in range(149)] + [1e9])
    assert max(scores) == 0.0


def test_a_surprise_that_keeps_growing_counts_once():
    """A ramp passes the quiet period's largest score on each of its points; only the first
    counts in full, and the rest must beat it by half a decade of tail probability."""
    rng = random.Random(9)
    xs = [rng.gauss(100, 2) for _ in range(3000)]
    for k, i in enumerate(range(2000, 2012)):
        xs[i] += 8 + 0.3 * k
    _, scores = run(xs)
    assert len(alarms(scores[2000:2012])) == 1


@pytest.mark.parametrize("direction", ["up", "down"])
def test_one_sided_detectors_ignore_the_other_side(direction):
    rng = random.Random(12)
    xs = [rng.gauss(100, 3) for _ in range(3000)]
    xs[2000] = 40.0  # a drop
    xs[2500] = 160.0  # a jump
    _, scores = run(xs, LikelihoodParams(direction=direction))
    fired = [i for i in alarms(scores) if i >= 600]
    assert fired == ([2500] if direction == "up" else [2000])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(min_value=-1e12, max_value=1e12), min_size=150, max_size=400),
    st.sampled_from(["up", "down", "both"]),
    st.integers(min_value=0, max_value=300),
)
def test_any_series_scores_in_range_and_a_snapshot_resumes_exactly(xs, direction, cut):
    params = LikelihoodParams(direction=direction, min_points=20, refractory=64)
    m, scores = run(xs[:cut], params)
    copy = pickle.loads(pickle.dumps(m))
    for i, x in enumerate(xs[cut:], start=cut):
        s = m.score_one(x, i * 300.0)
        assert 0.0 <= s <= 1.0
        assert copy.score_one(x, i * 300.0) == s
        m.learn_one(x, i * 300.0)
        copy.learn_one(x, i * 300.0)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_the_quiet_period_is_kept_in_a_few_numbers_however_long_the_series():
    rng = random.Random(13)
    m, _ = run([rng.gauss(0, 1) for _ in range(20000)], LikelihoodParams(refractory=5000))
    assert len(m.quiet.blocks) < 8


def test_without_a_quiet_period_a_lasting_shift_scores_on_every_point():
    """What the dataflow needs for `for: 2`: a problem that lasts keeps scoring."""
    rng = random.Random(14)
    xs = [rng.gauss(100, 3) + (30 if i >= 2500 else 0) for i in range(3000)]
    _, scores = run(xs, LikelihoodParams(refractory=0))
    assert all(s >= 0.5 for s in scores[2500:2504])
    _, quiet = run(xs)
    fired = alarms(quiet[2500:2600])
    assert fired[0] == 0 and len(fired) <= 2


def test_a_new_key_starts_from_its_parents_sense_of_normal():
    rng = random.Random(15)
    parent, _ = run(daily(2000, rng))
    child = parent.spawn()
    assert child.is_warm(0.0, 0.0)
    ordinary = [50 + 20 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, 1) for i in range(300)]
    scores = []
    for i, x in enumerate(ordinary):
        scores.append(child.score_one(x, i * 300.0))
        child.learn_one(x, i * 300.0)
    assert not alarms(scores)
    assert child.score_one(200.0, 300 * 300.0) >= 0.5


def test_a_snapshot_from_before_the_long_run_tests_starts_over_with_its_params():
    """Snapshots outlive upgrades: an older model (a fast level instead of a running mean,
    params without the newer knobs) is restored as a fresh one, not as a warm model whose
    mean is zero."""
    params = LikelihoodParams(refractory=40)
    object.__delattr__(params, "window")
    object.__delattr__(params, "direction")
    old = {"p": params, "n": 900, "level": 50.0, "scale": 2.0, "cooldown": 0, "peak": 0.0}
    m = AnomalyLikelihood.__new__(AnomalyLikelihood)
    m.__setstate__((None, old))
    assert m.n == 0 and not m.is_warm(0.0, 0.0)
    assert m.p.refractory == 40 and m.p.window == LikelihoodParams().window
    assert m.score_one(1e9, 0.0) == 0.0


def test_a_damped_score_stays_below_the_alert_point_however_large_the_surprise():
    """A second, smaller but still enormous spike inside the quiet period is no news."""
    rng = random.Random(15)
    xs = [rng.gauss(100, 2) for _ in range(2000)]
    xs[1500], xs[1600] = 1e9, 1e8
    _, scores = run(xs)
    assert scores[1500] == 1.0
    assert scores[1600] <= 0.25


def test_the_state_pickles_small_however_long_and_varied_the_series():
    rng = random.Random(16)
    m, _ = run([rng.uniform(0, 1000) * rng.random() for _ in range(30000)])
    size = len(pickle.dumps(m))
    assert size < 2 * LikelihoodParams().contexts + 1500
    assert isinstance(m.table, bytearray) and 2 * m.taken <= len(m.table)


def test_a_snapshot_with_the_older_table_and_quiet_period_fields_resumes():
    """Snapshots outlive upgrades: histories kept by code in a dict, and the quiet period in
    the model's own fields, are read into the hashed table and the shared quiet period."""
    rng = random.Random(17)
    m, _ = run([rng.gauss(10, 1) for _ in range(1000)])
    saved = {name: getattr(m, name) for name in AnomalyLikelihood.__slots__}
    codes = m._keys(m._bin(10.0))
    del saved["quiet"], saved["taken"]
    saved.update(table={k: 3 for k in codes}, blocks=[0.2, 0.4], block=0.1, filled=5)
    old = AnomalyLikelihood.__new__(AnomalyLikelihood)
    old.__setstate__((None, saved))
    assert old.quiet.bar() == 0.4 and old.quiet.filled == 5
    assert old.taken >= 1 and old._novelty(10.0) == 0.0
    assert 0.0 <= old.score_one(11.0, 1000 * 300.0) <= 1.0


def _fed(history, spike):
    m = AnomalyLikelihood()
    for i, x in enumerate([*history, spike]):
        m.learn_one(x, i * 300.0)
    return m


def test_a_huge_spike_teaches_the_point_tail_no_more_than_one_at_the_clip():
    """A thousand sigmas and a billion teach the point test's tail the same: beyond the clip
    (20 sigmas) an extreme point says only that it was extreme."""
    rng = random.Random(9)
    history = [100 + rng.gauss(0, 1) for _ in range(400)]
    small, huge = _fed(history, 100 + 1e3), _fed(history, 100 + 1e9)
    assert small.tails[0].__getstate__() == huge.tails[0].__getstate__()
    # below the clip the size still counts
    assert _fed(history, 105).tails[0].__getstate__() != small.tails[0].__getstate__()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3), min_size=30, max_size=120),
    st.floats(21.0, 1e6),
    st.floats(21.0, 1e6),
    st.sampled_from([-1.0, 1.0]),
)
def test_any_two_points_beyond_the_clip_leave_the_same_point_tail(history, k1, k2, sign):
    probe = AnomalyLikelihood()
    for i, x in enumerate(history):
        probe.learn_one(x, i * 300.0)
    sd = math.sqrt(probe.var)
    if not sd > 1e-6:
        return  # a constant history: no spread to measure a clip in
    a, b = (probe.mean + sign * k * sd for k in (k1, k2))
    assert probe.describe(a, 0.0)["deviation"] >= 20.5 <= probe.describe(b, 0.0)["deviation"]
    assert _fed(history, a).tails[0].__getstate__() == _fed(history, b).tails[0].__getstate__()
