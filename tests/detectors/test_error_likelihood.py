"""The anomaly likelihood of a model's errors (`spanwatch score` on a bare `ewma` or `seasonal`):
a series' own ordinary errors stay quiet whatever their size, a spike and a level shift are
announced once, and the dataflow's configured detectors keep their own scores."""

from __future__ import annotations

import io
import math
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.cli import SCORE_PARAMS, run_online, score
from detectors.config import default_detectors
from detectors.csvseries import SeriesRow
from detectors.error_likelihood import ErrorLikelihood, ErrorOf, ewma_error, seasonal_error
from detectors.estimators import build_params, new_estimator

STEP = 300.0
KINDS = ["ewma", "seasonal"]


def rows(values: list[float]) -> list[SeriesRow]:
    return [SeriesRow(i + 2, f"t{i}", i * STEP, v, repr(v)) for i, v in enumerate(values)]


def noise(n: int, seed: int, scale: float) -> list[float]:
    rng = random.Random(seed)
    return [100.0 * scale + scale * rng.gauss(0.0, 1.0) for _ in range(n)]


def scores(kind: str, values: list[float]) -> list[float]:
    params = build_params(kind, SCORE_PARAMS.get(kind, {}), step=STEP)
    return [s or 0.0 for s in run_online(kind, params, rows(values))]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scale", [0.01, 1.0, 1e4])
def test_noise_stays_below_the_alert_point_whatever_its_scale(kind: str, scale: float) -> None:
    for seed in range(3):
        assert max(scores(kind, noise(2000, seed, scale))) < 0.5


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scale", [0.01, 1.0, 1e4])
def test_a_spike_is_the_loudest_point_and_speaks(kind: str, scale: float) -> None:
    xs = noise(2000, 7, scale)
    xs[1500] += 12.0 * scale
    s = scores(kind, xs)
    assert s[1500] > 0.5
    assert s[1500] == max(s)


@pytest.mark.parametrize("kind", KINDS)
def test_a_level_shift_is_announced_once(kind: str) -> None:
    xs = noise(2400, 11, 1.0)
    for i in range(1500, 2400):
        xs[i] += 6.0
    s = scores(kind, xs)
    loud = [i for i, v in enumerate(s) if v > 0.5]
    assert loud and 1500 <= loud[0] <= 1510
    assert len(loud) <= 3


def test_configured_detectors_score_as_in_the_dataflow(tmp_path: Path) -> None:
    """A default detector id runs the model as the dataflow does, not its errors' likelihood."""
    src = tmp_path / "s.csv"
    xs = noise(400, 3, 1.0)
    src.write_text(
        "timestamp,value\n" + "".join(f"{1_700_000_000 + 300 * i},{x}\n" for i, x in enumerate(xs)),
        encoding="utf-8",
    )
    out = tmp_path / "o.csv"
    assert score(str(src), "cost-per-team", {}, str(out), io.StringIO()) == 0
    kind = "seasonal"
    spec = next(s for s in default_detectors() if s.id == "cost-per-team")
    assert spec.kind == kind
    params = build_params(kind, dict(spec.params), step=300.0, aggregation="sum")
    model = new_estimator(kind, params)
    expect = []
    for i, x in enumerate(xs):
        t = 1_700_000_000 + 300.0 * i
        expect.append(f"{min(1.0, max(0.0, model.score_one(x, t))):.6f}")
        model.learn_one(x, t)
    got = [line.split(",")[2] for line in out.read_text().splitlines()[1:]]
    assert got == expect


@pytest.mark.parametrize(("kind", "error_of"), [("ewma", ewma_error), ("seasonal", seasonal_error)])
@settings(max_examples=25, deadline=None)
@given(values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=300))
def test_scores_are_bounded_and_repeatable(
    kind: str, error_of: ErrorOf, values: list[float]
) -> None:
    def run() -> list[float]:
        m = ErrorLikelihood(new_estimator(kind, build_params(kind, {}, step=STEP)), error_of)
        out = []
        for i, x in enumerate(values):
            out.append(m.score_one(x, i * STEP))
            m.learn_one(x, i * STEP)
        return out

    first = run()
    assert first == run()
    assert all(0.0 <= s <= 1.0 and not math.isnan(s) for s in first)
