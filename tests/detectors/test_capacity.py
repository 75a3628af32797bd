"""Quotas, their matching, and the capacity forecast on usage shaped unlike the simulator's."""

from __future__ import annotations

import fnmatch
import math
import pickle
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.capacity import CapacityForecast, CapacityParams
from detectors.config import DetectorsConfig
from detectors.detectorset import DetectorSet
from detectors.forecast import DAY, ForecastParams, SeasonalHolt
from detectors.quotas import (
    DEFAULT_QUOTAS,
    DEFAULTS_CHECKED,
    Quota,
    find_quota,
    glob_match,
    output_burndown,
)

WORDS = st.text(alphabet="ab-.4", max_size=8)


@given(st.lists(WORDS, min_size=1, max_size=5), WORDS)
def test_glob_match_agrees_with_fnmatch_on_star_patterns(parts, text):
    pattern = "*".join(parts)
    assert glob_match(pattern, text) == fnmatch.fnmatchcase(text, pattern)


def test_a_configured_quota_comes_before_the_default_and_keeps_its_burndown():
    mine = (Quota("anthropic.claude-sonnet-4*", "eu-*", tokens_per_minute=3_000_000),)
    found = find_quota("anthropic.claude-sonnet-4-5", "eu-west-1", "tokens", mine)
    assert found is mine[0]
    # the account's entry sets no requests quota, and there is no default one (Bedrock
    # no longer enforces requests per minute): requests are not judged
    assert find_quota("anthropic.claude-sonnet-4-5", "eu-west-1", "requests", mine) is None
    # elsewhere, the default; and Claude 4's output burndown either way
    assert find_quota("anthropic.claude-sonnet-4-5", "us-east-1", "tokens", mine) in DEFAULT_QUOTAS
    assert output_burndown("anthropic.claude-sonnet-4-5", "eu-west-1", mine) == 5.0
    assert output_burndown("anthropic.claude-3-5-haiku", "eu-west-1", mine) == 1.0
    assert find_quota("meta.llama3-1-70b-instruct", "us-east-1", "tokens", mine) is None


def test_the_documented_defaults_are_the_ones_in_force():
    """docs/operations.md shows the default quotas and when they were checked: the same table."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    assert f"checked {DEFAULTS_CHECKED}" in doc
    rows = re.findall(r"^\| `([^`]+)` \| ([\d,]+) \| ([\d.]+) \|$", doc, re.MULTILINE)
    table = [
        (q.model, f"{q.tokens_per_minute:,.0f}", f"{q.output_burndown:g}") for q in DEFAULT_QUOTAS
    ]
    assert rows == table
    assert all(q.requests_per_minute is None for q in DEFAULT_QUOTAS)


def test_a_model_without_a_quota_never_alerts_and_says_so():
    c = CapacityForecast(CapacityParams(quota="requests"), {"model": "unknown", "region": "x"})
    for i in range(3000):
        c.learn_one(1e9, i * 60.0)
    assert c.score_one(1e9, 3000 * 60.0) == 0.0
    assert c.describe(1e9, 3000 * 60.0)["limit"] is None


def office(t: float, peak: float, utc_offset_h: float) -> float:
    h = ((t / 3600.0) + utc_offset_h) % 24.0
    weekday = int((t + utc_offset_h * 3600.0) // DAY + 3) % 7
    if weekday >= 5 or not 8.0 <= h < 19.0:
        return 0.03 * peak
    return peak * math.sin(math.pi * (h - 8.0) / 11.0) ** 2


@pytest.mark.parametrize(("seed", "offset", "step"), [(1, -7.0, 60.0), (2, 5.5, 300.0)])
def test_steady_weeks_at_sixty_percent_of_the_quota_raise_nothing(seed, offset, step):
    """Office hours in another time zone, heavy-tailed tokens, 1- and 5-minute windows."""
    rng = random.Random(seed)
    quota = {"model": "m", "tokens_per_minute": 1_000_000.0, "output_burndown": 1.0}
    params = CapacityParams(quota="tokens", step=step, quotas=(quota,))
    c = CapacityForecast(params, {"model": "m", "region": "r"})
    run = longest = 0
    for i in range(int(11 * DAY / step)):
        t = 1_800_000_000.0 + i * step
        mean = office(t, 600_000.0, offset) * step / 60.0  # 60% of the quota at midday
        x = [rng.gammavariate(6.0, mean / 6.0) if mean > 0 else 0.0, 0.0]
        if i * step > 7 * DAY:  # the default warm-up
            run = run + 1 if c.score_one(x, t) >= 0.5 else 0
            longest = max(longest, run)
        c.learn_one(x, t)
    assert longest < 3  # the default detectors open an incident after three windows in a row


def test_a_steady_climb_is_projected_ahead_of_the_quota():
    rng = random.Random(5)
    quota = {"model": "m", "requests_per_minute": 1000.0}
    c = CapacityForecast(CapacityParams(quota="requests", quotas=(quota,)), {"model": "m"})
    t0 = 1_800_000_000.0
    alerted = reached = None
    for i in range(int(6 * DAY / 60)):
        t = t0 + i * 60.0
        climb = 1.0 + max(0.0, t - (t0 + 5 * DAY)) / 3600.0  # +100% of normal an hour
        mean = 300.0 * climb  # flat, round the clock
        x = float(rng.gauss(mean, math.sqrt(mean)))
        if alerted is None and i * 60 > 2 * DAY and c.score_one(x, t) >= 0.5:
            alerted = t
        if reached is None and mean >= 800.0:
            reached = t
        c.learn_one(x, t)
    assert alerted is not None and reached is not None
    assert t0 + 5 * DAY < alerted < reached  # after the climb starts, before 80% is reached


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.0, 1e7), min_size=1, max_size=300), st.integers(1, 7))
def test_the_forecast_keeps_a_fixed_size_state_and_a_finite_projection(xs, days):
    f = SeasonalHolt(ForecastParams(step=60.0))
    size = len(pickle.dumps(f))
    for i, x in enumerate(xs):
        f.learn_one(x, i * 60.0 * days * 7)
    path = f.forecast(len(xs) * 60.0, 60, x=xs[-1])
    assert len(path) == 60 and all(math.isfinite(v) and v >= 0.0 for v in path)
    assert len(pickle.dumps(f)) < size + 4000  # the same number of floats, whatever the input


def test_a_capacity_detector_reads_input_and_output_tokens_and_restores_from_pickle():
    config = DetectorsConfig.model_validate(
        {
            "detectors": [
                {
                    "id": "cap",
                    "kind": "capacity",
                    "metrics": [
                        {"aggregation": "sum", "field": "tokens_in"},
                        {"aggregation": "sum", "field": "tokens_out"},
                    ],
                    "group_by": ["model", "region"],
                    "interval": "1m",
                    "warmup": "0s",
                    "params": {"quotas": [{"model": "m*", "tokens_per_minute": 1000}]},
                }
            ]
        }
    )
    detectors = DetectorSet(list(config.detectors))
    state = detectors.new_state("cap")
    event = {"name": "claude.invoke", "model": "m1", "region": "r", "tokens_in": 100}
    fired = []
    for i in range(80):  # 130 tokens a minute, climbing by 10 a minute: 800 at minute 67
        for obs in detectors.route({**event, "time": i * 60.0 + 1.0, "tokens_out": 30 + 10 * i}):
            state.update(obs)
        fired += [s.time for s in state.advance(i * 60.0 + 61.0) if s.firing]
    assert fired and fired[0] < 67 * 60.0
    model = pickle.loads(pickle.dumps(state.keys[("m1", "r")]))
    assert model.limit == 1000.0 and model.burndown == 1.0
    assert model.usage([100.0, 200.0]) == 300.0
    assert model.f.level == state.keys[("m1", "r")].f.level


def test_a_budget_incident_shows_the_projection_and_when_the_budget_runs_out():
    from detectors.budget import BudgetBurn, BudgetParams
    from detectors.timeparse import parse_time

    m = BudgetBurn(BudgetParams(budget=3000.0, period="month", step=3600.0, tau=86400.0))
    t0 = parse_time("2026-03-01T00:00:00+05:30")  # a month starting in another time zone
    for h in range(240):  # ten days at 10 an hour: 7,440 projected for March (UTC)
        m.learn_one(10.0, t0 + h * 3600.0)
    ev = m.describe(10.0, t0 + 240 * 3600.0)
    assert ev["period_end"] == "2026-04-01T00:00:00Z"
    assert ev["spent_share"] < 1.0 < ev["projected_share"]
    # the hours before March began in UTC were February's: 3,000 at 10 an hour is 300 hours
    # into March (UTC)
    march = parse_time("2026-03-01T00:00:00Z")
    assert abs(parse_time(ev["runs_out_at"]) - (march + 300 * 3600.0)) < 2 * 3600.0


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0.0, 1e6), min_size=1, max_size=400),
    st.floats(0.0, 1e6),
    st.integers(1, 120),
    st.sampled_from([60.0, 300.0, 3600.0]),
)
def test_the_ceiling_bounds_the_whole_projection(xs, x, steps, step):
    f = SeasonalHolt(ForecastParams(step=step))
    for i, v in enumerate(xs):
        f.learn_one(v, 1_700_000_000.0 + i * step)
    t = 1_700_000_000.0 + len(xs) * step
    assert max(f.forecast(t, steps, x=x)) <= f.ceiling(t, steps, x) * (1 + 1e-9) + 1e-9


def test_the_account_quotas_follow_a_capacity_detectors_own_and_leave_other_kinds_alone():
    from detectors.config import CapacityConfig, DetectorsConfig

    config = DetectorsConfig()
    specs = [s.model_copy(deep=True) for s in config.detectors]
    before = {s.id: dict(s.params) for s in specs}
    account = CapacityConfig(quotas=[{"model": "claude-x", "requests_per_minute": 7}])
    account.apply(specs, canonical=lambda m: "canonical/" + m)
    capacity = [s for s in specs if s.kind == "capacity"]
    assert capacity, "the default set has a capacity detector"
    for spec in specs:
        if spec.kind == "capacity":
            own = list(before[spec.id].get("quotas", []))
            assert spec.params["quotas"][: len(own)] == own
            assert spec.params["quotas"][len(own) :] == [
                {"model": "canonical/claude-x", "region": "*", "requests_per_minute": 7.0}
            ]
        else:
            assert spec.params == before[spec.id]
