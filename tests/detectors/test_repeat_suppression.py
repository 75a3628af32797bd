"""Repeat suppression inside the seasonal, EWMA and change-point estimators (`repeat`): a score
counts only when it passes every score of the points before it, so an excursion is announced
once; it never raises a score, changes nothing the model learns, and lives in snapshots."""

from __future__ import annotations

import dataclasses
import itertools
import math
import pickle
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.changepoint import ChangePoint, ChangePointParams
from detectors.ewma import EwmaChart, EwmaParams
from detectors.quiet_period import PASS
from detectors.seasonal import SeasonalBaseline, SeasonalParams

KINDS: dict[str, tuple[type[Any], Any]] = {
    "seasonal": (SeasonalBaseline, SeasonalParams(direction="both", step=600.0)),
    "seasonal-counts": (
        SeasonalBaseline,
        SeasonalParams(direction="up", step=900.0, noise="poisson", transform="log"),
    ),
    "ewma": (EwmaChart, EwmaParams(direction="both", step=60.0)),
    "changepoint": (ChangePoint, ChangePointParams(direction="up", min_points=20)),
}


def model(kind: str, repeat: int) -> Any:
    cls, params = KINDS[kind]
    return cls(dataclasses.replace(params, repeat=repeat))


def scores_of(m: Any, xs: list[float], step: float = 600.0, t0: float = 1.7e9) -> list[float]:
    out = []
    for i, x in enumerate(xs):
        t = t0 + i * step
        out.append(m.score_one(x, t, n=int(abs(x))))
        m.learn_one(x, t, n=int(abs(x)))
    return out


def kept_when_above_last(scores: list[float], n: int) -> list[float]:
    """Each score if it passes every score of the `n` points before it, else 0."""
    return [
        s if all(s > r + PASS for r in scores[max(0, i - n) : i]) else 0.0
        for i, s in enumerate(scores)
    ]


def regimes(seed: int, length: int, base: float, spread: float) -> list[float]:
    """A noisy series with steps, spikes and a drift at places drawn from the seed."""
    rng = random.Random(seed)
    level, out = base, []
    for i in range(length):
        if rng.random() < 0.01:
            level += rng.choice((-1, 1)) * spread * rng.uniform(2, 12)
        if i > length // 2:
            level += spread * 0.02
        x = level + rng.gauss(0, spread)
        if rng.random() < 0.02:
            x += spread * rng.uniform(4, 30)
        out.append(max(0.0, x))
    return out


series = st.builds(
    regimes,
    seed=st.integers(0, 10_000),
    length=st.integers(40, 400),
    base=st.floats(1.0, 1e6),
    spread=st.floats(0.01, 1.0).map(lambda r: r),
)


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=15, deadline=None)
@given(xs=series, repeat=st.integers(1, 40))
def test_suppression_never_raises_a_score_and_keeps_or_zeroes_each(kind, xs, repeat):
    plain = scores_of(model(kind, 0), xs)
    kept = scores_of(model(kind, repeat), xs)
    for s, k in zip(plain, kept, strict=True):
        assert k == s or k == 0.0
        assert k <= s


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=10, deadline=None)
@given(xs=series, repeat=st.integers(1, 7))
def test_a_score_counts_only_when_it_passes_every_score_of_the_points_before(kind, xs, repeat):
    # up to seven points the quiet period holds every point's score, so this is exact; no
    # empty windows (an idle key's are no points of it: neither scored nor remembered)
    xs = [x + 1.0 for x in xs]
    plain = scores_of(model(kind, 0), xs)
    assert scores_of(model(kind, repeat), xs) == kept_when_above_last(plain, repeat)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_long_quiet_period_is_the_last_points_give_or_take_one_block(kind):
    xs = regimes(7, 1500, 100.0, 1.0)
    plain = scores_of(model(kind, 0), xs)
    kept = scores_of(model(kind, 40), xs)
    shorter, longer = kept_when_above_last(plain, 35), kept_when_above_last(plain, 40)
    assert all(b <= k <= a for k, a, b in zip(kept, shorter, longer, strict=True))
    assert sum(1 for k in kept if k > 0) < sum(1 for s in plain if s > 0)


@pytest.mark.parametrize("kind", ["seasonal", "ewma"])  # a change point restarts at a change
def test_a_step_that_lasts_is_announced_as_it_grows_not_on_every_point_after(kind):
    rng = random.Random(3)
    xs = [100.0 + rng.gauss(0, 1) for _ in range(300)] + [
        115.0 + rng.gauss(0, 1) for _ in range(60)
    ]
    plain = scores_of(model(kind, 0), xs)
    kept = scores_of(model(kind, 30), xs)
    alarms_plain = sum(1 for s in plain[300:] if s >= 0.5)
    alarms_kept = sum(1 for s in kept[300:] if s >= 0.5)
    first = next(i for i in range(300, len(xs)) if plain[i] >= 0.5)
    assert kept[first] == plain[first]  # the step is still found, as soon
    assert alarms_plain >= 10
    assert alarms_kept <= 3
    announced = [s for s in kept[300:] if s > 0.0]  # within the quiet period: each passes the last
    assert all(b > a + PASS for a, b in itertools.pairwise(announced))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_snapshot_keeps_the_quiet_period(kind):
    xs = regimes(11, 600, 50.0, 5.0)
    whole = model(kind, 25)
    first = scores_of(whole, xs[:350])
    restored = pickle.loads(pickle.dumps(whole))
    assert restored.quiet is not None and restored.quiet.bar() == whole.quiet.bar()
    t0 = 1.7e9 + 350 * 600.0
    assert scores_of(restored, xs[350:], t0=t0) == scores_of(whole, xs[350:], t0=t0)
    assert any(s > 0 for s in first)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_without_repeat_a_key_carries_no_quiet_period(kind):
    m = model(kind, 0)
    scores_of(m, regimes(5, 100, 10.0, 0.3))
    assert m.quiet is None
    assert pickle.loads(pickle.dumps(m)).quiet is None


def test_a_seasonal_snapshot_from_before_repeat_starts_its_quiet_period_afresh():
    m = model("seasonal", 12)
    xs = regimes(13, 300, 20.0, 0.4)
    scores_of(m, xs)
    old_state = m.__getstate__()[:3]  # what a model saved before the field existed held
    back = SeasonalBaseline.__new__(SeasonalBaseline)
    back.__setstate__(old_state)
    assert back.quiet is not None and back.quiet.bar() == 0.0
    assert back.n == m.n and not math.isnan(back.stats.loc)


@pytest.mark.parametrize("kind", ["ewma", "changepoint"])
def test_a_slotted_snapshot_from_before_repeat_starts_its_quiet_period_afresh(kind):
    m = model(kind, 12)
    scores_of(m, regimes(17, 200, 20.0, 0.4))
    cls, state = type(m), m.__reduce_ex__(2)[2]
    slots = dict(state[1])
    del slots["quiet"]
    back = cls.__new__(cls)
    back.__setstate__((None, slots))
    assert back.quiet is not None and back.quiet.bar() == 0.0
    assert back.n == m.n


def counting(kind: str, repeat: int) -> Any:
    """A model of the kind that counts how often its score before suppression is computed."""
    cls, params = KINDS[kind]

    class Counted(cls):  # type: ignore[misc, valid-type]
        __slots__ = ("computed",)

        def _score(self, *args: Any) -> float:
            self.computed += 1
            return float(super()._score(*args))

    m = Counted(dataclasses.replace(params, repeat=repeat))
    m.computed = 0
    return m


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_scored_point_is_learned_with_the_score_it_was_given(kind):
    xs = [x + 1.0 for x in regimes(19, 300, 40.0, 2.0)]
    m = counting(kind, 10)
    scores_of(m, xs)
    assert m.computed == len(xs)  # once per point, not again when it is learned


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=10, deadline=None)
@given(xs=series, which=st.lists(st.booleans(), min_size=400, max_size=400))
def test_what_is_learned_does_not_depend_on_which_points_were_scored(kind, xs, which):
    """A point learned without being scored, or after another value was scored at its time,
    teaches the quiet period its own score: later scores are those of a model scored on
    every point."""
    xs = [x + 1.0 for x in xs]
    every, some = model(kind, 8), model(kind, 8)
    for i, (x, scored) in enumerate(zip(xs, which, strict=False)):
        t = 1.7e9 + i * 600.0
        expected = every.score_one(x, t, n=int(x))
        if scored:
            assert some.score_one(x, t, n=int(x)) == expected
        elif i % 3 == 0:
            some.score_one(x * 2.0 + 5.0, t, n=int(x))  # another value, never learned
        every.learn_one(x, t, n=int(x))
        some.learn_one(x, t, n=int(x))
    assert some.quiet.bar() == every.quiet.bar()


@pytest.mark.parametrize(
    "cls,params", [(SeasonalBaseline, SeasonalParams), (EwmaChart, EwmaParams)]
)
def test_by_default_a_smaller_echo_hours_after_a_spike_is_no_news(cls, params):
    """An echo 30 points (2.5 hours of 5-minute points) after a larger spike: the kinds'
    default quiet period (60 points) holds it back, the 10 points it was before did not."""
    rng = random.Random(11)
    xs = [100.0 + rng.gauss(0.0, 1.0) for _ in range(700)]
    xs[600] += 40.0
    xs[630] += 25.0
    default = scores_of(cls(params(step=300.0)), xs, step=300.0)
    short = scores_of(cls(params(step=300.0, repeat=10)), xs, step=300.0)
    assert params().repeat == 60
    assert default[600] == short[600] > 0.5
    assert short[630] > 0.5 and default[630] == 0.0
