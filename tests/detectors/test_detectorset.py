"""Routing events to detectors and the per-detector state: windows, keys, alerts."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from detectors import DetectorsConfig, DetectorSet, Observation, Signal

MONDAY = 1793577600.0  # 2026-11-02T00:00:00Z
STEP = 300.0


def one(**spec) -> DetectorSet:
    spec.setdefault("id", "d")
    return DetectorSet.from_config(DetectorsConfig.model_validate({"detectors": [spec]}))


def invoke(t, user="alice", team="payments", **kw):
    return {"time": t, "name": "claude.invoke", "user": user, "team": team, "cost": 0.1, **kw}


def feed(ds, state, events, until):
    signals: list[Signal] = []
    for ev in sorted(events, key=lambda e: e["time"]):
        for obs in ds.route(ev):
            signals += state.update(obs)
        signals += state.advance(ev["time"] - 60)
    signals += state.advance(until)
    return signals


def test_route_applies_filter_exclude_and_group_and_carries_the_parent():
    ds = one(
        kind="seasonal",
        aggregation="sum",
        field="cost",
        filter={"name": "claude.invoke"},
        exclude={"status": "error"},
        group_by=["user"],
        parent_by=["team"],
    )
    [obs] = ds.route(invoke(MONDAY))
    assert obs == Observation("d", MONDAY, ("alice",), 0.1, parent=("payments",))
    assert ds.route({**invoke(MONDAY), "name": "shell.run"}) == []
    assert ds.route(invoke(MONDAY, status="error")) == []
    assert ds.route({k: v for k, v in invoke(MONDAY).items() if k != "user"}) == []
    assert ds.route({**invoke(MONDAY), "time": float("nan")}) == []


def test_route_sums_several_fields_and_reads_conditions_and_booleans():
    tokens = one(kind="seasonal", aggregation="sum", field=["tokens_in", "tokens_out"])
    assert tokens.route({"time": 1.0, "tokens_in": 3, "tokens_out": "2"})[0].value == 5.0
    rate = one(kind="ewma", aggregation="rate", condition={"status": "error"})
    assert rate.route({"time": 1.0, "status": "error"})[0].value == 1.0
    assert rate.route({"time": 1.0, "status": "ok"})[0].value == 0.0
    ratio = one(kind="ewma", aggregation="ratio", field="cache_hit")
    assert [ratio.route({"time": 1.0, "cache_hit": v})[0].value for v in (True, "false")] == [1, 0]


def test_empty_windows_of_known_keys_are_points_so_silence_is_seen():
    ds = one(kind="absence", group_by=["team"], warmup="1d", **{"for": 2})
    state = ds.new_state("d")
    rng = random.Random(1)
    events = []
    for day in range(8):
        for minute in range(9 * 60, 17 * 60):
            t = MONDAY + day * 86400 + minute * 60 + rng.random()
            silent = day == 7 and minute >= 10 * 60  # next Monday, from 10:00
            if (day % 7) < 5 and not silent:
                events.append(invoke(t))
    signals = feed(ds, state, events, MONDAY + 7 * 86400 + 12 * 3600)
    opened = [s for s in signals if s.firing]
    assert opened, "a team that stops in working hours must be noticed"
    first = opened[0]
    assert first.group == {"team": "payments"}
    assert MONDAY + 7 * 86400 + 10 * 3600 < first.time <= MONDAY + 7 * 86400 + 11 * 3600 + 1800
    assert first.evidence["value"] == 0.0


def test_late_and_bad_points_are_counted_never_raised():
    ds = one(kind="seasonal", aggregation="sum", field="cost", group_by=["user"])
    state = ds.new_state("d")
    for value in (float("nan"), math.inf, -3.0):
        assert state.update(Observation("d", MONDAY, ("a",), value)) == []
    state.update(Observation("d", MONDAY, ("a",), 1.0))
    state.update(Observation("d", float("inf"), ("a",), 1.0))
    state.advance(MONDAY + 2 * STEP)
    state.update(Observation("d", MONDAY + 10, ("a",), 1.0))  # its window is closed
    bad_text = ds.route({"time": MONDAY, "user": "a", "cost": "lots"})[0]
    state.update(bad_text)
    assert state.stats["bad_value"] == 4
    assert state.stats["bad_time"] == 1
    assert state.stats["late"] == 1
    assert state.stats["points"] == 2  # the first window and the empty one after it


def test_keys_are_capped_least_recently_seen_first_and_counted():
    ds = one(kind="seasonal", group_by=["user"], max_keys=2)
    state = ds.new_state("d")
    for user in ("a", "b", "a", "c"):
        state.update(Observation("d", MONDAY, (user,), None))
    assert set(state.keys) == {("a",), ("c",)}
    assert state.stats["evictions"] == 1


def spike_run(ds, state, spike_user="u3", spike_day=8, warm_start=0):
    rng = random.Random(2)
    events = []
    for day in range(warm_start, spike_day + 1):
        for i in range(12 * 24):
            t = MONDAY + day * 86400 + i * STEP
            for u in range(6):
                n = rng.randrange(3)
                if day == spike_day and 10 * 12 <= i < 11 * 12 and f"u{u}" == spike_user:
                    n = 40
                events += [invoke(t + k, user=f"u{u}", team="t1") for k in range(n)]
    return feed(ds, state, events, MONDAY + (spike_day + 1) * 86400)


def test_a_runaway_user_opens_once_fires_per_window_and_resolves_once():
    ds = one(
        kind="seasonal",
        title="Runaway invocations for {user}",
        severity="high",
        filter={"name": "claude.invoke"},
        group_by=["user"],
        parent_by=["team"],
        params={"direction": "up"},
        keep_firing_for=2,
        **{"for": 2},
    )
    signals = spike_run(ds, ds.new_state("d"))
    assert {s.group["user"] for s in signals} == {"u3"}, "nobody else is anomalous"
    firing = [s for s in signals if s.firing]
    resolved = [s for s in signals if not s.firing]
    assert len(resolved) == 1 and resolved[0].time > firing[-1].time
    spike = MONDAY + 8 * 86400 + 10 * 3600
    assert firing[0].time == spike + 2 * STEP, "opens after `for` = 2 windows"
    assert [s.time for s in firing] == [firing[0].time + k * STEP for k in range(len(firing))]
    first = firing[0]
    assert first.title == "Runaway invocations for u3" and first.severity == "high"
    assert 0.5 <= first.score <= 1.0 and first.evidence["value"] == 40.0


def test_a_key_signals_with_its_parent_labels_and_its_configured_labels():
    """A person's incident carries their team (`parent_by`), so that routes and inhibit rules
    can match it; a configured label of the same name wins, and without `parent_by` none."""
    spec = {"kind": "seasonal", "group_by": ["user"], "keep_firing_for": 2,
            "params": {"direction": "up"}, "for": 2}  # fmt: skip
    with_team = one(**spec, parent_by=["team"])
    firing = [s for s in spike_run(with_team, with_team.new_state("d")) if s.firing]
    assert firing and {s.labels["team"] for s in firing} == {"t1"}
    assert all(s.group == {"user": "u3"} for s in firing)
    pinned = one(**spec, parent_by=["team"], labels={"team": "platform"})
    firing = [s for s in spike_run(pinned, pinned.new_state("d")) if s.firing]
    assert firing and {s.labels["team"] for s in firing} == {"platform"}
    alone = one(**spec)
    firing = [s for s in spike_run(alone, alone.new_state("d")) if s.firing]
    assert firing and not any("team" in s.labels for s in firing)


def test_no_alerts_during_warmup():
    ds = one(kind="seasonal", group_by=["user"], warmup="30d", params={"direction": "up"})
    assert spike_run(ds, ds.new_state("d")) == []


def test_a_new_user_starts_from_the_team_baseline():
    spec = {
        "kind": "seasonal",
        "group_by": ["user"],
        "parent_by": ["team"],
        "warmup": "1d",
        "params": {"direction": "up"},
    }
    ds = one(**spec)
    state = ds.new_state("d")
    rng = random.Random(3)
    events = [
        invoke(MONDAY + i * STEP + k, user=f"u{u}", team="t1")
        for i in range(12 * 24 * 3)
        for u in range(5)
        for k in range(rng.randrange(3))
    ]
    feed(ds, state, events, MONDAY + 3 * 86400)
    newcomer = ("newbie",)
    state.update(Observation("d", MONDAY + 3 * 86400 + 10, newcomer, None, parent=("t1",)))
    model = state.keys[newcomer]
    assert model.is_warm(MONDAY + 3 * 86400, 86400.0), "inherits the team's maturity"
    assert abs(model.residual_z(1.0, MONDAY + 3 * 86400)[1] - 1.0) < 0.5


def new_region_per_user() -> DetectorSet:
    """The default new-region detector's shape, with an hour of warm-up."""
    return one(
        kind="new_value",
        aggregation="distinct",
        field="region",
        group_by=["user"],
        parent_by=["team"],
        warmup="1h",
    )


def test_a_new_region_for_a_user_is_new_only_if_the_team_never_used_it():
    ds = new_region_per_user()
    state = ds.new_state("d")
    events = [invoke(MONDAY + i * STEP, user="old", region="us-east-1") for i in range(30)]
    events += [invoke(MONDAY + i * STEP, user="old2", region="eu-west-1") for i in range(30)]
    events.append(invoke(MONDAY + 40 * STEP, user="new", region="eu-west-1"))
    events.append(invoke(MONDAY + 41 * STEP, user="old", region="ap-southeast-1"))
    signals = feed(ds, state, events, MONDAY + 50 * STEP)
    opened = [s for s in signals if s.firing and "new_values" in s.evidence]
    assert [(s.group["user"], s.evidence["new_values"]) for s in opened] == [
        ("old", ["ap-southeast-1"])
    ]
    assert {s.group["user"] for s in signals} == {"old"}


def test_hst_watches_several_metrics_of_one_key():
    ds = one(
        kind="hst",
        group_by=["user"],
        warmup="1h",
        metrics=[{"aggregation": "count"}, {"aggregation": "sum", "field": "cost"}],
    )
    [obs] = ds.route(invoke(MONDAY))
    assert obs.value is None and obs.values == (1.0, 0.1)
    state = ds.new_state("d")
    feed(ds, state, [invoke(MONDAY + i * 60) for i in range(600)], MONDAY + 700 * 60)
    assert state.stats["points"] > 100 and state.stats["bad_value"] == 0


def test_replaying_the_same_input_gives_the_same_signals_even_across_a_snapshot():
    def make():
        ds = one(kind="seasonal", group_by=["user"], parent_by=["team"], params={"direction": "up"})
        return ds, ds.new_state("d")

    ds, straight = make()
    expected = spike_run(ds, straight, spike_day=5)
    ds2, state = make()
    rng = random.Random(2)
    events = []
    for day in range(6):
        for i in range(12 * 24):
            t = MONDAY + day * 86400 + i * STEP
            for u in range(6):
                n = rng.randrange(3)
                if day == 5 and 120 <= i < 132 and u == 3:
                    n = 40
                events += [invoke(t + k, user=f"u{u}", team="t1") for k in range(n)]
    half = len(events) // 2
    got = feed(ds2, state, events[:half], events[half]["time"] - 60)
    state = pickle.loads(pickle.dumps(state))
    got += feed(ds2, state, events[half:], MONDAY + 6 * 86400)
    assert got == expected and expected


def test_a_firing_key_without_further_points_resolves_after_keep_firing_for_intervals():
    """Windows with too few events give no point, and count as windows below the threshold:
    the alert resolves on time instead of staying open until the key's next busy hour."""
    ds = one(
        kind="ewma",
        aggregation="rate",
        condition={"status": "error"},
        group_by=["user"],
        min_count=5,
        warmup="1h",
        keep_firing_for=3,
        params={"direction": "up"},
    )
    state = ds.new_state("d")
    events = [invoke(MONDAY + i * 30.0, status="ok") for i in range(600)]  # 5 h, 10 a window
    burst = MONDAY + 600 * 30.0
    events += [invoke(burst + i * 30.0, status="error") for i in range(10)]
    signals = feed(ds, state, events, burst + 6 * STEP)
    assert [s.firing for s in signals] == [True, True, True, False]
    assert signals[-1].time == burst + 4 * STEP  # the burst's window, then three without points
    # A day later the user works normally again: no stale alert comes back to life.
    later = [invoke(burst + 86400.0 + i * 30.0, status="ok") for i in range(60)]
    assert feed(ds, state, later, burst + 86400.0 + 40 * STEP) == []


def test_a_region_the_team_took_up_after_a_user_started_is_not_new_for_that_user():
    ds = new_region_per_user()
    state = ds.new_state("d")
    events = [invoke(MONDAY + i * STEP, user="ann", region="us-east-1") for i in range(30)]
    # Ann started when the team knew only us-east-1; then Cid takes up eu-west-1.
    events += [invoke(MONDAY + i * STEP, user="cid", region="eu-west-1") for i in range(20, 40)]
    events.append(invoke(MONDAY + 45 * STEP, user="ann", region="eu-west-1"))
    events.append(invoke(MONDAY + 46 * STEP, user="ann", region="ap-southeast-1"))
    opened = [
        (s.group["user"], s.evidence["new_values"])
        for s in feed(ds, state, events, MONDAY + 60 * STEP)
        if s.firing and "new_values" in s.evidence
    ]
    assert ("ann", ["eu-west-1"]) not in opened
    assert ("ann", ["ap-southeast-1"]) in opened


def test_a_newcomers_first_region_is_news_only_if_nobody_has_used_it():
    """A user whose home region differs from their team's is not an incident on their first
    day; once they have their own history, a region new to them is (even if others use it)."""
    ds = new_region_per_user()
    state = ds.new_state("d")
    events = [invoke(MONDAY + i * STEP, user="ann", region="us-west-2") for i in range(30)]
    events += [
        invoke(MONDAY + i * STEP, user="eve", team="infra", region=r)
        for i in range(30)
        for r in ("us-east-1", "eu-west-1")
    ]
    events.append(invoke(MONDAY + 31 * STEP, user="bob", region="us-east-1"))  # bob's first call
    events.append(invoke(MONDAY + 32 * STEP, user="cat", region="sa-east-1"))  # nobody's region
    events += [invoke(MONDAY + i * STEP, user="bob", region="us-east-1") for i in range(33, 50)]
    events.append(invoke(MONDAY + 51 * STEP, user="bob", region="eu-west-1"))  # bob, an hour in
    opened = [
        (s.group["user"], s.evidence["new_values"])
        for s in feed(ds, state, events, MONDAY + 60 * STEP)
        if s.firing and "new_values" in s.evidence
    ]
    assert opened == [("cat", ["sa-east-1"]), ("bob", ["eu-west-1"])]


def test_a_new_value_model_pickled_before_it_knew_its_birth_is_judged_by_its_history():
    from detectors.new_value import NewValue

    model = NewValue()
    model.learn_one({"us-east-1"}, MONDAY)
    state = model.__reduce_ex__(2)[2]
    restored = NewValue.__new__(NewValue)
    slots = {k: v for k, v in state[1].items() if k != "born"}
    restored.__setstate__((None, slots))
    assert restored.seen == {"us-east-1": None} and restored.is_young(MONDAY, 3600.0)


def test_huge_and_non_finite_values_are_counted_as_bad_never_raised():
    """Decode refuses these; should one arrive anyway, a detector skips it and counts it."""
    ds = one(kind="seasonal", aggregation="sum", field=["tokens_in", "tokens_out"])
    state = ds.new_state("d")
    for value in (10**310, -(2**63) - 1, float("inf"), float("nan"), "1e400", 1e308):
        for obs in ds.route({"time": MONDAY, "tokens_in": value, "tokens_out": 1e308}):
            state.update(obs)
    assert state.stats["bad_value"] == 6
    assert ds.route({"time": 10**400, "tokens_in": 1}) == []


def test_several_values_new_to_a_person_in_one_window_are_news_one_is_not():
    """`min_new`: a person's one new repository is a day's work; three in an hour, each new to
    them and their team, are a walk through the organisation's code, even in their first days."""
    ds = one(kind="new_value", aggregation="distinct", field="repo", group_by=["user"],
             parent_by=["team"], interval="1h", warmup="1h", params={"min_new": 3})  # fmt: skip
    state = ds.new_state("d")
    hour = 3600.0
    events = [invoke(MONDAY + i * STEP, user="ann", repo="pay-api") for i in range(36)]
    events += [invoke(MONDAY + i * STEP, user="eve", team="maps", repo=r)
               for i in range(36) for r in ("maps-ui", "maps-geo", "maps-tiles")]  # fmt: skip
    events.append(invoke(MONDAY + 4 * hour, user="ann", repo="docs-site"))  # one new: no news
    # bob joins payments: the team's repository is his habit, three of maps' at once are not
    events.append(invoke(MONDAY + 5 * hour, user="bob", repo="pay-api"))
    events += [invoke(MONDAY + 6 * hour + 60 * k, user="bob", repo=r)
               for k, r in enumerate(("maps-ui", "maps-geo", "maps-tiles"))]  # fmt: skip
    opened = [
        (s.group["user"], s.evidence["new_values"])
        for s in feed(ds, state, events, MONDAY + 8 * hour)
        if s.firing and "new_values" in s.evidence
    ]
    assert opened == [("bob", ["maps-geo", "maps-tiles", "maps-ui"])]


@pytest.mark.parametrize("aggregation", ["sum", "count", "p95", "distinct"])
def test_an_observation_bad_in_time_and_value_counts_once_as_bad_time(aggregation):
    ds = one(kind="seasonal", aggregation=aggregation, field="cost", group_by=["user"])
    state = ds.new_state("d")
    state.update_many(
        [
            Observation("d", math.nan, ("a",), math.nan),
            Observation("d", MONDAY, ("a",), -1.0),
            Observation("d", MONDAY, ("a",), 1.0),
        ]
    )
    expected_bad = {"sum": 1, "count": 0, "p95": 1, "distinct": 2}[aggregation]
    assert state.stats["bad_time"] == 1
    assert state.stats["bad_value"] == expected_bad
    assert state.stats["observations"] == 3
