"""What `spanwatch score` adds to a bare kind's defaults is valid and is what it runs."""

from __future__ import annotations

import io
import random

import pytest

from detectors.cli import SCORE_PARAMS, score
from detectors.config import params_model


@pytest.mark.parametrize("kind", sorted(SCORE_PARAMS))
def test_each_kinds_score_params_are_valid_params_of_the_kind(kind):
    params_model(kind).model_validate(SCORE_PARAMS[kind])


def scores(tmp_path, kind: str, params: dict[str, str]) -> list[str]:
    rng = random.Random(4)
    values = [50.0 + rng.gauss(0.0, 1.0) + (8.0 if i >= 500 else 0.0) for i in range(700)]
    src, out = tmp_path / "s.csv", tmp_path / "o.csv"
    src.write_text(
        "timestamp,value\n"
        + "".join(f"{1793577600 + 300 * i},{v:.4f}\n" for i, v in enumerate(values))
    )
    assert score(str(src), kind, params, str(out), io.StringIO()) == 0
    return out.read_text().splitlines()


@pytest.mark.parametrize("kind", sorted(SCORE_PARAMS))
def test_a_bare_kind_runs_with_its_score_params(tmp_path, kind):
    given = {k: str(v) for k, v in SCORE_PARAMS[kind].items()}
    assert scores(tmp_path, kind, {}) == scores(tmp_path, kind, given)
