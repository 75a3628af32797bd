"""Half-space trees' point test and repeat suppression: what one series needs beside the forest."""

from __future__ import annotations

import io
import pickle
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.cli import SCORE_PARAMS, score
from detectors.halfspace import HalfSpaceParams, HalfSpaceScorer


def run(values: list[float], params: HalfSpaceParams) -> list[float]:
    m = HalfSpaceScorer(params)
    scores = []
    for i, x in enumerate(values):
        scores.append(m.score_one([x], float(i)))
        m.learn_one([x], float(i))
    return scores


def noise(seed: int, n: int = 600) -> list[float]:
    rng = random.Random(seed)
    return [100.0 + rng.gauss(0.0, 2.0) for _ in range(n)]


def test_the_forest_alone_scores_a_spike_of_ten_sigmas_and_one_of_a_hundred_alike():
    """Why the point test exists: every region a few sigmas out is empty to the forest."""
    ten, hundred = noise(3), noise(3)
    ten[500] += 20.0
    hundred[500] += 200.0
    forest = HalfSpaceParams(window_size=100)
    assert run(ten, forest)[500] == run(hundred, forest)[500]
    both = run(hundred, HalfSpaceParams(window_size=100, point_z=6.0))
    assert both[500] > 0.99
    assert max(range(200, 600), key=both.__getitem__) == 500


def test_the_point_test_ranks_spikes_by_their_size():
    small, large = noise(5), noise(5)
    small[500] += 20.0
    large[500] += 200.0
    params = HalfSpaceParams(window_size=100, point_z=6.0)
    assert 0.5 < run(small, params)[500] < run(large, params)[500]


def test_a_heavy_tailed_series_learns_its_usual_spikes():
    """Lognormal noise: points many robust sigmas out are ordinary; the learned tail keeps
    the point test for what passes the series' usual spikes, and for a far spike."""
    rng = random.Random(8)
    values = [rng.lognormvariate(0.0, 1.0) for _ in range(3000)]
    scores = run(values, HalfSpaceParams(window_size=100, point_z=6.0, z=1e6))
    assert sum(s > 0.5 for s in scores[1000:]) <= 20  # 12 here, 33 without the tail
    values[2500] = 400.0
    assert run(values, HalfSpaceParams(window_size=100, point_z=6.0, z=1e6))[2500] > 0.9


def test_a_step_is_announced_once():
    values = noise(9, 800)
    values = [v + (40.0 if i >= 600 else 0.0) for i, v in enumerate(values)]
    params = HalfSpaceParams(window_size=100, point_z=6.0, repeat=60)
    scores = run(values, params)
    assert scores[600] > 0.9
    assert sum(s > 0.5 for s in scores[601:660]) <= 2


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    spikes=st.lists(st.tuples(st.integers(40, 299), st.floats(-80.0, 80.0)), max_size=4),
)
def test_the_point_test_only_adds_to_the_forests_score(seed, spikes):
    values = noise(seed, 300)
    for at, size in spikes:
        values[at] += size
    forest = run(values, HalfSpaceParams(window_size=50))
    both = run(values, HalfSpaceParams(window_size=50, point_z=6.0))
    assert all(b >= f for b, f in zip(both, forest, strict=True))


def test_a_scorer_saved_before_the_point_test_loads_with_its_defaults():
    m = HalfSpaceScorer(HalfSpaceParams(window_size=50))
    for i, x in enumerate(noise(2, 200)):
        m.learn_one([x], float(i))
    state = m.__getstate__()
    saved = {k: v for k, v in state[1].items() if k not in ("quiet", "tails")}
    old = HalfSpaceScorer.__new__(HalfSpaceScorer)
    old.__setstate__((None, saved))
    assert old.quiet is None and len(old.tails) == 0
    assert old.score_one([100.0], 200.0) == m.score_one([100.0], 200.0)
    assert pickle.loads(pickle.dumps(m)).score_one([130.0], 200.0) == m.score_one([130.0], 200.0)


def test_spanwatch_score_runs_the_kind_with_its_point_test(tmp_path):
    values = noise(11, 900)
    values[800] += 60.0
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    src.write_text(
        "timestamp,value\n"
        + "".join(f"{1793577600 + 300 * i},{v:.4f}\n" for i, v in enumerate(values))
    )
    assert SCORE_PARAMS["hst"]["point_z"] > 0.0
    assert score(str(src), "hst", {}, str(out), io.StringIO()) == 0
    scored = [float(line.split(",")[2]) for line in out.read_text().splitlines()[1:]]
    assert len(scored) == 900
    assert scored.index(max(scored)) == 800 and scored[800] > 0.9
