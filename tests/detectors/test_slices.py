"""The slices detector: every value of every label watched at once, departures attributed to
the slices that explain them, state bounded, on organisations of random shapes."""

from __future__ import annotations

import doctest
import io
import math
import pickle
import random
import re
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from detectors.cli import score
from detectors.config import DetectorsConfig, DetectorSpec
from detectors.detectorset import DetectorSet
from detectors.slice_attribution import AGGREGATE
from detectors.slices import binomial_z
from tests.detectors.slice_org import START, Org, Plant, organisation, slice_sizes

DIMS = ["team", "user", "model", "region", "workflow", "repo"]
SLOW = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def raw(**over) -> dict:
    base = {
        "id": "slices-error-rate",
        "kind": "slices",
        "title": "Error rate",
        "severity": "critical",
        "aggregation": "rate",
        "condition": {"status": "error"},
        "filter": {"name": ["claude.invoke", "claude_code.api_request"]},
        "group_by": DIMS,
        "interval": "5m",
        "warmup": "2h",
        "params": {"direction": "up", "min_points": 6},
    }
    base.update(over)
    return base


def spec(**over) -> DetectorSpec:
    return DetectorSpec.model_validate(raw(**over))


def run(detector: DetectorSpec, events, interval: float = 300.0):
    """Route and update every event, closing each window as the next begins; the signals."""
    ds = DetectorSet([detector])
    state = ds.new_state(detector.id)
    out, current = [], None
    for e in events:
        w = e["time"] // interval
        if current is not None and w != current:
            out.extend(state.advance(w * interval))
        current = w
        for o in ds.route(e):
            out.extend(state.update(o))
    if current is not None:
        out.extend(state.advance((current + 1) * interval))
    return state, out


def opened(signals) -> list:
    """The first firing signal of each slice's each run of firing (what opens an incident)."""
    firing, out = set(), []
    for s in signals:
        key = tuple(sorted(s.group.items()))
        if s.firing and key not in firing:
            firing.add(key)
            out.append(s)
        elif not s.firing:
            firing.discard(key)
    return out


def window_of(s) -> int:
    return int((s.time - START) // 300.0) - 1


def same_events(events, plant: Plant, group: dict) -> bool:
    """Whether the named slice holds the same calls as the planted one while it departs."""
    ((dim, value),) = group.items() or [("*", "")]
    window = [e for e in events if plant.start <= (e["time"] - START) // 300 < plant.start + 2]
    planted = {id(e) for e in window if e[plant.dim] == plant.value}
    named = {id(e) for e in window if dim == "*" or e.get(dim) == value}
    return bool(planted) and planted == named


def plantable(org: Org, dim: str, rng: random.Random) -> str | None:
    sizes = slice_sizes(org, dim)
    big = sorted(v for v, n in sizes.items() if n >= 12.0)
    return rng.choice(big) if big else None


@SLOW
@given(
    seed=st.integers(0, 10**6),
    dim=st.sampled_from(["team", "model", "region", "repo"]),
    people=st.integers(25, 120),
    teams=st.integers(2, 12),
)
def test_an_error_burst_planted_in_one_random_slice_is_named(seed, dim, people, teams):
    org = organisation(seed, people, teams)
    value = plantable(org, dim, random.Random(seed))
    assume(value is not None)
    plant = Plant(dim, value, start=40, windows=4)
    events = list(org.events(48, plant))
    _, signals = run(spec(), events)
    during = [s for s in opened(signals) if plant.start <= window_of(s) < plant.start + 4]
    assert during, f"nothing named for {dim}={value}"
    first = during[0]
    assert first.group == {dim: value} or same_events(events, plant, first.group), first.title
    assert window_of(first) <= plant.start + 1  # in the burst's first or second window
    others = [s for s in during[1:] if not same_events(events, plant, s.group)]
    assert not others, [s.title for s in others]  # one outbreak, one incident
    where = f"{dim}={value}" if first.group == {dim: value} else None
    assert re.fullmatch(
        r"Error rate \d+% for \w+=\S+, baseline \d+(\.\d+)?%( \(.*\))?", first.title
    )
    if where:
        assert f"for {where}, baseline" in first.title
    assert first.severity == "critical" and first.labels["detector_kind"] == "slices"


@settings(SLOW, max_examples=3)
@given(seed=st.integers(0, 10**6), people=st.integers(60, 200), teams=st.integers(3, 20))
def test_noise_across_hundreds_of_slices_stays_quiet(seed, people, teams):
    org = organisation(seed, people, teams)
    _, signals = run(spec(), org.events(288))  # a day of 5-minute windows, no departure
    assert len(opened(signals)) <= 1, [s.title for s in opened(signals)]


def test_a_small_team_failing_is_found_though_the_whole_barely_moves():
    org = organisation(5, 400, 30)
    sizes = slice_sizes(org, "team")
    total = sum(sizes.values())
    small = min((v for v, n in sizes.items() if n >= 12.0), key=lambda v: sizes[v])
    assert sizes[small] < total / 10
    plant = Plant("team", small, start=40, windows=3)
    _, signals = run(spec(), org.events(46, plant))
    named = opened(signals)
    assert [s.group for s in named] == [{"team": small}]
    assert "explains" not in named[0].evidence  # the aggregate did not depart
    assert named[0].evidence["value"] > 0.2 and named[0].evidence["baseline"] < 0.05
    assert named[0].evidence["slice"] == f"team={small}"


def test_a_departure_of_everyone_is_named_overall_with_its_largest_contributors():
    org = organisation(11, 150, 6)
    events = list(org.events(46))
    rng = random.Random(3)
    for e in events:
        if 40 <= (e["time"] - START) // 300 < 43:
            e["status"] = "error" if rng.random() < 0.3 else "ok"
    _, signals = run(spec(), events)
    named = opened(signals)
    assert named and named[0].group == {}, [s.title for s in named]
    assert re.match(
        r"Error rate [\d.]+% overall, baseline .*; largest shares: team=", named[0].title
    )
    assert named[0].evidence["contributors"]


def test_a_model_slowing_down_is_named_with_its_latency():
    org = organisation(21, 80, 5)
    model = plantable(org, "model", random.Random(1))
    plant = Plant("model", model, start=40, windows=3, kind="latency")
    detector = spec(
        id="slices-latency",
        title="Mean latency",
        aggregation="avg",
        condition=None,
        field="latency_ms",
        severity="high",
    )
    _, signals = run(detector, org.events(46, plant))
    named = opened(signals)
    assert named and named[0].group == {"model": model}, [s.title for s in named]
    assert re.fullmatch(
        rf"Mean latency [\d,]+ ms for model={model}, baseline [\d,]+ ms.*", named[0].title
    )
    ev = named[0].evidence
    assert ev["value"] > 2.5 * ev["baseline"]


def test_a_runaway_user_is_named_by_its_share_of_the_calls():
    org = organisation(31, 60, 4)
    user = next(p.user for p in org.people if p.rate >= 1.0)
    plant = Plant("user", user, start=40, windows=3, kind="calls")
    detector = spec(id="slices-calls", title="Calls", aggregation="count", condition=None)
    _, signals = run(detector, org.events(46, plant))
    named = opened(signals)
    assert named and named[0].group == {"user": user}, [s.title for s in named]
    assert re.fullmatch(
        rf"Calls \d+ in 5m for user={re.escape(user)}, baseline [\d.]+.*", named[0].title
    )
    assert named[0].evidence["value"] > 5 * named[0].evidence["baseline"]


def test_the_incident_resolves_when_the_slice_recovers():
    org = organisation(5, 120, 8)
    team = plantable(org, "team", random.Random(2))
    plant = Plant("team", team, start=40, windows=3)
    _, signals = run(spec(), org.events(52, plant))
    mine = [s for s in signals if s.group == {"team": team}]
    assert mine[0].firing and not mine[-1].firing
    assert window_of(mine[-1]) <= plant.start + plant.windows + 4  # keep_firing_for: 3


def test_state_stays_bounded_with_thousands_of_people_and_repositories():
    detector = spec(params={"max_slices": 400, "max_combinations": 250, "min_points": 2})
    rng = random.Random(4)
    events = [
        {
            "name": "claude.invoke",
            "time": START + i * 1.0,
            "team": f"t{i % 7}",
            "user": f"u{rng.randrange(10**9)}",
            "repo": f"r{rng.randrange(10**9)}",
            "model": "m",
            "region": "us-east-1",
            "workflow": "chat",
            "status": "ok",
        }
        for i in range(9_000)
    ]
    ds = DetectorSet([detector])
    state = ds.new_state(detector.id)
    widest = 0
    for e in events:
        for o in ds.route(e):
            state.update(o)
        widest = max(widest, max((len(w) for w in state.open.values()), default=0))
        state.advance(e["time"] - 300.0)
    assert len(state.baselines) <= 400 and widest <= 250 + 1  # and the overflow entry
    assert state.stats["evictions"] > 1000 and state.stats["overflow"] > 1000
    assert ("team", "t3") in state.baselines  # the busy slices are the ones kept
    again = pickle.loads(pickle.dumps(state))
    assert again.baselines.keys() == state.baselines.keys()
    assert again.baselines[("team", "t3")].expected == state.baselines[("team", "t3")].expected


def test_a_call_seen_as_span_and_as_log_event_counts_once():
    one_call = {"by": "session", "prefer": {"name": "claude.invoke"}}
    detector = spec(dedup=one_call)
    span = {"name": "claude.invoke", "time": START + 1.0, "session": "s1", "team": "a",
            "user": "u", "status": "error"}  # fmt: skip
    log = dict(span, name="claude_code.api_request", time=START + 2.0)
    alone = dict(log, session="s2")
    ds = DetectorSet([detector])
    state = ds.new_state(detector.id)
    for e in (span, log, alone):
        for o in ds.route(e):
            state.update(o)
    state.advance(START + 600.0)
    assert state.baselines[AGGREGATE].weight == 2.0
    assert state.stats["duplicates"] == 1


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"aggregation": "p95", "field": "latency_ms", "condition": None}, "kind 'slices' needs"),
        ({"group_by": []}, "needs `group_by`"),
        ({"parent_by": ["department"]}, "takes no `parent_by`"),
        ({"params": {"spam": 1}}, "spam"),
        ({"params": {"alpha": 1.5}}, "below 1"),
    ],
)
def test_a_misconfigured_slices_detector_is_refused_with_the_reason(given, message):
    with pytest.raises(ValidationError) as exc:
        DetectorsConfig.model_validate({"detectors": [raw(**given)]})
    assert message in str(exc.value)


def test_a_slices_detector_of_several_metrics_is_refused():
    spec = raw()
    for key in ("aggregation", "condition"):
        spec.pop(key)
    spec["metrics"] = [{"aggregation": "avg", "field": "latency_ms"}] * 2
    with pytest.raises(ValidationError) as exc:
        DetectorsConfig.model_validate({"detectors": [spec]})
    assert "kind 'slices' watches one metric" in str(exc.value)


@settings(deadline=None)  # exact fractions: slow on a busy machine, not wrong
@given(n=st.integers(1, 120), rate=st.floats(0.001, 0.999), data=st.data())
def test_binomial_z_has_the_binomial_tail(n, rate, data):
    k = data.draw(st.integers(0, n))
    z = binomial_z(k, n, rate)
    r = Fraction(rate)
    pmf = [math.comb(n, j) * r**j * (1 - r) ** (n - j) for j in range(n + 1)]
    tail = float(sum(pmf[k:])) if k >= n * rate else float(sum(pmf[: k + 1]))
    normal = 0.5 * math.erfc(abs(z) / math.sqrt(2.0))
    if tail > 1e-250:
        assert normal == pytest.approx(min(tail, 0.5), rel=1e-6, abs=1e-300)
    if k != n * rate:
        assert (z > 0) == (k > n * rate) or z == 0.0


def test_scoring_one_series_with_a_slices_detector_says_what_to_do_instead(tmp_path):
    series = tmp_path / "s.csv"
    series.write_text("timestamp,value\n2026-01-01T00:00:00Z,1\n")
    out = io.StringIO()
    assert score(str(series), "slices-error-rate", {}, str(tmp_path / "o.csv"), out) == 2
    assert "watches every slice of its labels at once" in out.getvalue()


def test_the_slice_baseline_docstring_runs():
    import detectors.slices

    assert doctest.testmod(detectors.slices).failed == 0


@pytest.mark.parametrize(("seed", "people", "teams"), [(0, 25, 2), (2, 80, 8)])
def test_one_persons_failures_are_named_at_a_persons_severity_a_teams_at_the_detectors(
    seed, people, teams
):
    """`person_severity`: the busiest person failing is named at most at that severity; a
    team failing together keeps the detector's."""
    org = organisation(seed, people, teams)
    busiest = max(org.people, key=lambda p: (p.rate, p.user))
    sizes = slice_sizes(org, "team")
    team = max((t for t in sizes if t != busiest.team), key=lambda t: (sizes[t], t))
    params = {"direction": "up", "min_points": 6, "min_subjects": 2, "span": 3}
    detector = spec(params={**params, "person_severity": "medium"}, min_count=2)
    _, signals = run(detector, org.events(46, Plant("user", busiest.user, 40, 3)))
    named = [(s.group, s.severity) for s in opened(signals) if window_of(s) >= 40]
    assert named == [({"user": busiest.user}, "medium")]
    _, signals = run(detector, org.events(46, Plant("team", team, 40, 3)))
    named = [(s.group, s.severity) for s in opened(signals) if window_of(s) >= 40]
    assert ({"team": team}, "critical") in named
    assert all(sev == "medium" for group, sev in named if "user" in group)
