"""Seasonal models in snapshots written before their scalars became named fields still load,
and go on exactly as a model that learned the same series now."""

from __future__ import annotations

import io
import pickle
import random
from pathlib import Path
from typing import Any

import pytest

from detectors.seasonal import SeasonalBaseline, SeasonalParams

# Two models pickled when a model's whole state was one float array; the series they learned.
ONE_ARRAY_SNAPSHOT = Path(__file__).parent / "data" / "seasonal_models_as_one_array.pickle"
PARAMS = {
    "log-counts": SeasonalParams(direction="up", step=600, noise="poisson", transform="log"),
    "both-none": SeasonalParams(direction="both", step=1800),
}


def learned_now() -> dict[str, tuple[SeasonalBaseline, float]]:
    """The series the snapshot's models learned (seeded), learned again by today's model."""
    rng = random.Random(20261206)
    models = {}
    for name, params in PARAMS.items():
        m = SeasonalBaseline(params)
        t = 1_700_000_123.0
        for i in range(24 * 2 * 10):
            hour = int(t // 3600) % 24
            x = max(0.0, 20 + (15 if 9 <= hour < 18 else 0) + rng.gauss(0, 4))
            if i % 97 == 5:
                x *= 4
            m.learn_one(x, t, n=int(x))
            t += params.step
        models[name] = (m, t)
    return models


class _RawState:
    """Stands in for the model class to read a snapshot's saved state as it is."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _RawUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if name == "SeasonalBaseline":
            return _RawState
        return super().find_class(module, name)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_a_model_saved_as_one_array_scores_and_learns_like_one_learned_now(name):
    saved = pickle.loads(ONE_ARRAY_SNAPSHOT.read_bytes())[name]
    now, t = learned_now()[name]
    assert saved.n == now.n > 0
    for j, x in enumerate([0.0, 10.0, 35.0, 90.0, 400.0, 3.5e6]):
        at = t + j * 5400.0
        # before repeats are suppressed: a snapshot of this age carries no quiet period, so the
        # restored model's starts afresh while the model learned now remembers its last points
        assert saved.score_in_alert(x, at, int(x)) == now.score_in_alert(x, at, int(x))
        assert saved.describe(x, at, int(x)) == now.describe(x, at, int(x))
        saved.learn_one(x, at, int(x))
        now.learn_one(x, at, int(x))
    again = pickle.loads(pickle.dumps(saved))
    assert again.cells.tobytes() == now.cells.tobytes()  # bytes: a cell not yet seen is NaN
    assert bytes(again.stats) == bytes(now.stats)


def test_a_model_saved_as_a_shorter_array_loads_and_scores():
    """Older still: an array from before the level offset and the tails existed."""
    raw = _RawUnpickler(io.BytesIO(ONE_ARRAY_SNAPSHOT.read_bytes())).load()["both-none"]
    a, p = raw.state
    old = SeasonalBaseline.__new__(SeasonalBaseline)
    old.__setstate__((a[: 168 + 57], p))
    t = 1_700_000_123.0 + 24 * 20 * 1800.0
    assert old.n == 480
    assert old.stats.level == 0.0 and old.stats.hour == -1.0  # the fields it lacked start fresh
    assert old.stats.dispersion > 0.0  # and those it had are kept
    assert 0.0 <= old.score_one(11.0, t) <= 1.0
    old.learn_one(11.0, t)
    assert pickle.loads(pickle.dumps(old)).score_one(11.0, t) == old.score_one(11.0, t)
