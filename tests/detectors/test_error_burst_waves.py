"""A provider throttling every team on a model for an afternoon is a wave across teams, not
each team's burst (`wave_z`: each team is judged beside the other teams' windows of the same
minutes); one team failing far beyond the wave is still paged, and soon."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.config import DetectorSpec, default_detectors
from detectors.ewma import EwmaChart, EwmaParams
from tests.detectors.throttled_org import HOUR, MONDAY, Burst, Org, Throttle, firing

TEAM = "error-rate-per-team"
AFTERNOON = MONDAY + 2 * 86400 + 13 * HOUR
# Organisations of other sizes: a mid-size one in one region, a small one of three teams.
MID = Org({f"t{i}": size for i, size in enumerate([3, 5, 8, 12, 20, 30])})
SMALL = Org({"a": 3, "b": 4, "c": 6})


def pages(org: Org, seed: int, share: float, bursts: list[Burst]) -> list[tuple[str, float]]:
    """(team, time) of the team pages opened over three days with a throttled afternoon."""
    throttle = Throttle(AFTERNOON, hours=3, share=share)
    return [(s.group["team"], s.time) for s in firing(org, seed, [throttle], bursts, (TEAM,))]


@pytest.mark.parametrize(("org", "seed", "share"), [(MID, 1, 0.08), (SMALL, 4, 0.12)])
def test_a_throttled_afternoon_across_teams_pages_no_team(org, seed, share):
    assert pages(org, seed, share, []) == []


@pytest.mark.parametrize(("org", "seed", "team"), [(MID, 5, "t3")])
def test_a_team_burst_inside_a_throttled_afternoon_still_pages_within_five_minutes(org, seed, team):
    burst = Burst(team, AFTERNOON + 70 * 60, minutes=20, share=0.4)
    opened = [t for who, t in pages(org, seed, 0.08, [burst]) if who == team and t > burst.start]
    assert opened, "missed"
    assert burst.start < opened[0] <= burst.start + 300


def test_without_the_peers_the_same_afternoon_pages_teams():
    """The afternoon the tests above use is one that pages teams when each is judged alone
    (so those tests could fail)."""
    spec = {d.id: d for d in default_detectors()}[TEAM]
    assert spec.params.get("wave_z", 0.0) > 0.0
    alone = EwmaParams(step=spec.interval, **{**spec.params, "wave_z": 0.0})
    with_peers = EwmaParams(step=spec.interval, **spec.params)
    scores = [_wave_window(p) for p in (alone, with_peers)]
    assert scores[0] >= 0.5 > scores[1]


def _wave_window(params: EwmaParams) -> float:
    """A busy team's window of 60 calls, 9 failing (15%), against its 1%, while the other
    teams' last windows hold 600 calls with 60 failures where their rates expect 6."""
    rng, m, t = random.Random(0), EwmaChart(params), 0.0
    for _ in range(300):
        t += params.step
        m.see_peers({"": (6.0, 600.0, 6.0)}, {"": 60.0}, t)
        failed = sum(rng.random() < 0.01 for _ in range(60))
        m.learn_one((failed / 60, ("p1", "p2")[: min(failed, 2)]), t, 60)
    for _ in range(3):
        t += params.step
        m.see_peers({"": (60.0, 600.0, 6.0)}, {"": 60.0}, t)
    return m.score_one((9 / 60, ("p1", "p2", "p3")), t, 60)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.integers(1, 400), st.floats(0.0, 20.0),
                  st.floats(60.0, 4000.0)),
        max_size=10,
    )
)  # fmt: skip
def test_the_wave_never_exceeds_the_peers_worst_excess_share(windows):
    """The wave is a lower bound of a weighted mean of the others' windows' excess shares:
    never above the largest of them, and none while they fail no more than expected."""
    m = EwmaChart(EwmaParams(noise="binomial", direction="up", wave_z=2.0, step=120.0))
    t, worst = 0.0, 0.0
    for k, n, expected, gap in windows:
        t += gap
        m.see_peers({"": (float(min(k, n)), float(n), expected)}, {"": 1.0}, t)
        worst = max(worst, (min(k, n) - expected) / n)
        assert 0.0 <= m.wave() <= max(worst, 0.0) + 1e-12


def test_wave_z_asks_a_rate_watched_upwards():
    with pytest.raises(ValueError, match="wave_z"):
        DetectorSpec.model_validate(
            {"id": "x", "kind": "ewma", "aggregation": "count", "group_by": ["team"],
             "params": {"wave_z": 2, "direction": "up"}}
        )  # fmt: skip
