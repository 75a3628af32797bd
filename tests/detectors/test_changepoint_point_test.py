"""The change-point detector's Shewhart test: a lone point far out speaks beside the sum."""

from __future__ import annotations

import io
import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.changepoint import ChangePoint, ChangePointParams
from detectors.cli import SCORE_PARAMS, score


def run(values: list[float], params: ChangePointParams) -> list[float]:
    m = ChangePoint(params)
    scores = []
    for i, x in enumerate(values):
        scores.append(m.score_one(x, float(i)))
        m.learn_one(x, float(i))
    return scores


def noise(seed: int, n: int = 400) -> list[float]:
    rng = random.Random(seed)
    return [100.0 + rng.gauss(0.0, 2.0) for _ in range(n)]


def test_a_lone_spike_is_blind_to_the_sum_and_plain_to_the_point_test():
    values = noise(3)
    values[300] += 60.0  # thirty sigmas, one point
    sum_only = run(values, ChangePointParams())
    both = run(values, ChangePointParams(point_z=6.0))
    assert sum_only[300] < 0.2
    assert both[300] > 0.9
    assert both.index(max(both)) == 300


def test_the_point_test_ranks_spikes_by_their_size():
    small, large = noise(5), noise(5)
    small[300] += 20.0
    large[300] += 200.0
    params = ChangePointParams(point_z=6.0)
    assert 0.5 < run(small, params)[300] < run(large, params)[300]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    spikes=st.lists(st.tuples(st.integers(40, 299), st.floats(-80.0, 80.0)), max_size=5),
    step=st.floats(-20.0, 20.0),
)
def test_the_point_test_only_adds_to_the_sums_score(seed, spikes, step):
    values = noise(seed, 300)
    for at, size in spikes:
        values[at] += size
    values = [v + (step if i >= 200 else 0.0) for i, v in enumerate(values)]
    sum_only = run(values, ChangePointParams())
    both = run(values, ChangePointParams(point_z=6.0))
    assert all(b >= s for b, s in zip(both, sum_only, strict=True))


def test_spanwatch_score_runs_the_kind_with_its_point_test(tmp_path):
    values = noise(11, 500)
    values[400] += 60.0
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    src.write_text(
        "timestamp,value\n"
        + "".join(f"{1793577600 + 300 * i},{v:.4f}\n" for i, v in enumerate(values))
    )
    assert SCORE_PARAMS["changepoint"]["point_z"] > 0.0
    assert score(str(src), "changepoint", {}, str(out), io.StringIO()) == 0
    scored = [float(line.split(",")[2]) for line in out.read_text().splitlines()[1:]]
    assert scored.index(max(scored)) == 400 and scored[400] > 0.9
    assert score(str(src), "changepoint", {"point_z": "0"}, str(out), io.StringIO()) == 0
    plain = [float(line.split(",")[2]) for line in out.read_text().splitlines()[1:]]
    assert plain[400] < 0.2
    assert not any(math.isnan(s) for s in scored + plain)


def test_a_heavy_tailed_series_learns_its_usual_spikes():
    """Lognormal noise: points many robust sigmas out are ordinary; the point test's
    sigma is floored by the learned size of the usual deviation (its 98th percentile over
    2.33), so it speaks on what passes the series' usual spikes, and on a far spike."""
    rng = random.Random(8)
    values = [rng.lognormvariate(0.0, 1.0) for _ in range(3000)]
    params = ChangePointParams(point_z=6.0, threshold=1e6)  # the point test alone
    scores = run(values, params)
    assert sum(s > 0.5 for s in scores[1000:]) <= 20  # 12 here, 22 without the floor
    values[2500] = 400.0
    assert run(values, params)[2500] > 0.9
