"""A provider's wave is judged cell by cell (the `routes` metrics of error-rate-per-team: each
region by default, or each model in each region): a team is excused only the share of the
wave on the cells it calls, so a throttled region hides no other region's team outage."""

from __future__ import annotations

import pickle

import pytest

from detectors.config import DetectorSpec
from detectors.ewma import MAX_CELLS, EwmaChart, EwmaParams
from detectors.routing import MetricExtractor
from tests.detectors.throttled_org import HOUR, MONDAY, Burst, Org, Throttle, firing

TEAM = "error-rate-per-team"
AFTERNOON = MONDAY + 2 * 86400 + 13 * HOUR
SONNET_US, SONNET_EU = (
    "anthropic.claude-sonnet-4-5|us-east-1",
    "anthropic.claude-sonnet-4-5|eu-west-1",
)
# t3 works in Europe, alone there; the provider throttles Sonnet in us-east-1.
ORG = Org({f"t{i}": size for i, size in enumerate([3, 5, 8, 12, 20, 30])}, {"t3": "eu-west-1"})


def _chart() -> EwmaChart:
    return EwmaChart(EwmaParams(noise="binomial", direction="up", wave_z=1.0, step=120.0))


def test_a_wave_on_one_route_excuses_only_the_calls_to_it():
    """Others fail 10% of 600 calls on Sonnet in us-east-1 where they expect 1%, and as
    usual in Europe: a team calling only Europe has no wave, one calling only the US has it,
    one half and half has half of it."""
    others = {SONNET_US: (60.0, 600.0, 6.0), SONNET_EU: (6.0, 600.0, 6.0)}
    waves = {}
    for name, mix in {"eu": {SONNET_EU: 40.0}, "us": {SONNET_US: 40.0},
                      "half": {SONNET_US: 20.0, SONNET_EU: 20.0}}.items():  # fmt: skip
        m = _chart()
        m.see_peers(others, mix, 120.0)
        waves[name] = m.wave()
    assert waves["eu"] == 0.0
    assert 0.05 < waves["us"] < 0.09
    assert waves["half"] == pytest.approx(waves["us"] / 2)


def test_the_cells_a_team_keeps_are_bounded_and_its_own_are_kept():
    m = _chart()
    for i in range(3 * MAX_CELLS):
        others = {f"m{j}|r": (1.0, 10.0 + j, 0.1) for j in range(i, i + 5)}
        m.see_peers(others, {"mine|r": 3.0}, 120.0 * (i + 1))
    assert m.peers is not None
    assert len(m.peers) <= MAX_CELLS and "mine|r" in m.peers


def test_a_state_saved_before_cells_reads_its_sums_as_one_cell():
    m = _chart()
    m.see_peers({"": (60.0, 600.0, 6.0)}, {"": 40.0}, 120.0)
    saved = pickle.loads(pickle.dumps(m))
    saved.peers = saved.peers[""]  # type: ignore[index]  # as an older version saved it
    restored = pickle.loads(pickle.dumps(saved))
    assert restored.peers == m.peers


def test_a_distinct_of_several_fields_counts_each_combination():
    e = MetricExtractor("distinct", ("model", "region"), None, combine=True)
    assert e.extract({"model": "m", "region": "r"}) == "m|r"
    assert e.extract({"model": "m"}) == "m|"
    assert e.extract({"user": "u"}) is None


def test_without_combine_a_distinct_of_several_fields_takes_the_first_present():
    e = MetricExtractor("distinct", ("model", "region"), None)
    assert e.extract({"model": "m", "region": "r"}) == "m"
    assert e.extract({"region": "r"}) == "r"
    assert e.extract({"user": "u"}) is None


def _alone(spec: DetectorSpec) -> DetectorSpec:
    """error-rate-per-team judging each team beside every other, whatever they call."""
    return spec.model_copy(update={"metrics": spec.metrics[:2]}) if spec.id == TEAM else spec


def _delay(seed: int, change=None) -> float:
    burst = Burst("t3", AFTERNOON + 70 * 60, minutes=20, share=0.4)
    throttle = Throttle(AFTERNOON, hours=3, share=0.08)
    opened = [
        s.time - burst.start
        for s in firing(ORG, seed, [throttle], [burst], (TEAM,), change=change)
        if s.group["team"] == "t3" and s.time > burst.start
    ]
    return opened[0] if opened else float("inf")


@pytest.mark.parametrize("seed", [2, 3])
def test_a_wave_on_another_region_does_not_slow_a_team_burst(seed):
    """t3's burst in Europe pages within five minutes while Sonnet is throttled in the US;
    judged beside every team, the US wave excuses part of it and it pages later."""
    assert _delay(seed) <= 300
    assert _delay(seed, _alone) > 300


def test_the_routes_metrics_need_wave_z():
    with pytest.raises(ValueError, match="wave_z"):
        DetectorSpec.model_validate(
            {"id": "x", "kind": "ewma", "group_by": ["team"],
             "params": {"noise": "binomial", "direction": "up"},
             "metrics": [{"aggregation": "rate", "condition": {"status": "error"}},
                         {"aggregation": "distinct", "field": "user"},
                         {"aggregation": "distinct", "field": ["model", "region"], "combine": True},
                         {"aggregation": "distinct", "field": ["model", "region"], "combine": True}]}
        )  # fmt: skip
