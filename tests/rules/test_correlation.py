"""Correlation rules: sliding event-time windows per group, bounded, picklable state."""

from __future__ import annotations

import functools
import pickle
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.config import RulesConfig
from rules.correlation import BUCKETS_PER_WINDOW, DISTINCT_CAP, SAMPLE_CAP
from rules.ruleset import RuleSet
from rules.testing import run_events

BASE = """
title: failed call
name: failed
logsource: {product: test}
detection:
  sel:
    status: error
  condition: sel
---
title: big call
name: big
logsource: {product: test}
detection:
  sel:
    tokens_in|gt: 1000
  condition: sel
---
"""


def correlation(kind: str, condition: str, rules: str = "[failed]", extra: str = "") -> str:
    return BASE + (
        f"title: corr\nname: corr\nlevel: high\ncorrelation:\n  type: {kind}\n"
        f"  rules: {rules}\n  group-by: [user]\n  timespan: 10m\n"
        f"  condition: {condition}\n{extra}"
    )


def errors(user: str, times, **fields) -> list[dict]:
    return [{"time": float(t), "user": user, "status": "error", **fields} for t in times]


def corr_hits(ruleset, events):
    return [h for h in run_events(ruleset, events) if h.rule_id == "corr"]


def test_event_count_fires_once_the_window_holds_enough_events(load_rules):
    ruleset = load_rules(correlation("event_count", "{gte: 3}"))
    hits = corr_hits(ruleset, errors("al", [0, 100, 200, 300]))
    assert [h.time for h in hits] == [200.0, 300.0]
    assert hits[0].group == {"user": "al"}
    assert hits[0].severity == "high"
    assert hits[0].evidence["events"] == 3


def test_event_count_window_is_timespan_long_and_slides(load_rules):
    ruleset = load_rules(correlation("event_count", "{gte: 2}"))
    assert corr_hits(ruleset, errors("al", [0, 600])) == []  # (t - 10m, t] excludes t - 10m
    assert len(corr_hits(ruleset, errors("al", [0, 599]))) == 1
    assert corr_hits(ruleset, errors("al", [0, 700, 1400])) == []


def test_groups_are_counted_separately(load_rules):
    ruleset = load_rules(correlation("event_count", "{gte: 2}"))
    events = errors("al", [0]) + errors("bo", [1]) + errors("al", [2])
    hits = corr_hits(ruleset, events)
    assert [h.group for h in hits] == [{"user": "al"}]


def test_missing_group_by_values_group_under_the_empty_string(load_rules):
    ruleset = load_rules(correlation("event_count", "{gte: 2}"))
    hits = corr_hits(ruleset, [{"time": 1.0, "status": "error"}, {"time": 2.0, "status": "error"}])
    assert [h.group for h in hits] == [{"user": ""}]


def test_range_conditions_and_every_operator(load_rules):
    cases = {
        "{gte: 2, lt: 4}": [1, 2],
        "{gt: 2}": [2, 3, 4],
        "{lte: 2}": [0, 1],
        "{lt: 2}": [0],
        "{eq: 3}": [2],
        "{neq: 1}": [1, 2, 3, 4],
    }
    for condition, expected_indexes in cases.items():
        ruleset = load_rules(correlation("event_count", condition))
        hits = corr_hits(ruleset, errors("al", range(5)))
        assert [int(h.time) for h in hits] == expected_indexes, condition


def test_value_count_counts_distinct_values_of_the_field(load_rules):
    ruleset = load_rules(correlation("value_count", "{gte: 3, field: repo}"))
    events = errors("al", [0, 1, 2, 3], repo="a") + errors("al", [4, 5], repo="b")
    assert corr_hits(ruleset, events) == []
    events += errors("al", [6], repo="c")
    [hit] = corr_hits(ruleset, events)
    assert hit.evidence["distinct"] == 3
    assert sorted(hit.evidence["values"]) == ["a", "b", "c"]


def test_value_count_ignores_events_without_the_field(load_rules):
    ruleset = load_rules(correlation("value_count", "{gte: 2, field: repo}"))
    assert corr_hits(ruleset, errors("al", [0, 1, 2]) + errors("al", [3], repo="x")) == []


def test_value_sum_and_value_avg(load_rules):
    events = errors("al", [0, 1, 2], cost=4.0) + errors("al", [3], cost="n/a")
    sums = corr_hits(load_rules(correlation("value_sum", "{gt: 10, field: cost}")), events)
    assert [h.evidence["sum"] for h in sums] == [12.0]
    avgs = corr_hits(load_rules(correlation("value_avg", "{gte: 4, field: cost}")), events)
    assert [h.evidence["avg"] for h in avgs] == [4.0, 4.0, 4.0]


def test_value_sum_of_several_fields_adds_them_per_event(load_rules):
    text = correlation("value_sum", "{gte: 30, field: [tokens_in, tokens_out]}")
    events = errors("al", [0], tokens_in=10, tokens_out=5) + errors("al", [1], tokens_in=15)
    assert [h.evidence["sum"] for h in corr_hits(load_rules(text), events)] == [30.0]


def test_value_percentile_and_median(load_rules):
    latencies = [10, 20, 30, 40, 1000]
    events = [
        {"time": float(i), "user": "al", "status": "error", "latency_ms": v}
        for i, v in enumerate(latencies)
    ]
    p90 = load_rules(
        correlation("value_percentile", "{gt: 500, field: latency_ms, percentile: 90}")
    )
    [hit] = corr_hits(p90, events)
    assert hit.evidence["value"] == pytest.approx(616.0)  # linear interpolation between 40 and 1000
    median = load_rules(correlation("value_median", "{gte: 30, field: latency_ms}"))
    assert [h.evidence["value"] for h in corr_hits(median, events)] == [30.0]


def test_temporal_needs_every_referenced_rule_within_the_timespan(load_rules):
    ruleset = load_rules(correlation("temporal", "{gte: 2}", rules="[failed, big]"))
    together = [*errors("al", [0]), {"time": 300.0, "user": "al", "tokens_in": 5000}]
    assert len(corr_hits(ruleset, together)) == 1
    apart = [*errors("al", [0]), {"time": 900.0, "user": "al", "tokens_in": 5000}]
    assert corr_hits(ruleset, apart) == []


def test_temporal_without_condition_defaults_to_all_rules(load_rules):
    text = correlation("temporal", "{gte: 2}", rules="[failed, big]").replace(
        "  condition: {gte: 2}\n", ""
    )
    ruleset = load_rules(text)
    assert corr_hits(ruleset, errors("al", [0, 1])) == []
    big = [{"time": 2.0, "user": "al", "tokens_in": 5000}]
    assert len(corr_hits(ruleset, errors("al", [0]) + big)) == 1


def test_temporal_ordered_needs_the_listed_order(load_rules):
    ruleset = load_rules(correlation("temporal_ordered", "{gte: 2}", rules="[failed, big]"))
    big = {"user": "al", "tokens_in": 5000}
    in_order = [*errors("al", [0]), {"time": 10.0, **big}]
    assert len(corr_hits(ruleset, in_order)) == 1
    reversed_order = [{"time": 0.0, **big}, *errors("al", [10])]
    assert corr_hits(ruleset, reversed_order) == []


def test_temporal_extended_condition_with_not(load_rules):
    ruleset = load_rules(correlation("temporal", "failed and not big", rules="[failed, big]"))
    assert len(corr_hits(ruleset, errors("al", [0]))) == 1
    big_first = [{"time": 0.0, "user": "al", "tokens_in": 5000}, *errors("al", [10])]
    assert corr_hits(ruleset, big_first) == []


def test_referenced_rules_raise_no_incidents_unless_generate_is_true(load_rules):
    quiet = load_rules(correlation("event_count", "{gte: 5}"))
    assert run_events(quiet, errors("al", [0])) == []
    loud = load_rules(
        correlation("event_count", "{gte: 5}").replace("  rules:", "  generate: true\n  rules:")
    )
    assert [h.rule_id for h in run_events(loud, errors("al", [0]))] == ["failed"]


def test_aliases_map_group_by_to_each_rules_field(load_rules):
    text = correlation(
        "temporal",
        "{gte: 2}",
        rules="[failed, big]",
        extra="",
    ).replace(
        "  group-by: [user]\n",
        "  group-by: [who]\n  aliases:\n    who: {failed: user, big: session}\n",
    )
    ruleset = load_rules(text)
    events = [*errors("al", [0]), {"time": 1.0, "session": "al", "tokens_in": 5000}]
    [hit] = corr_hits(ruleset, events)
    assert hit.group == {"who": "al"}


def test_group_cap_evicts_the_least_recently_seen_and_counts_it(load_rules):
    ruleset = load_rules(correlation("event_count", "{gte: 2}"), RulesConfig(max_groups_per_rule=2))
    state = ruleset.new_correlation_state("corr")
    for t, user in enumerate(["a", "b", "a", "c", "b"]):
        _, inputs = ruleset.evaluate({"time": float(t), "user": user, "status": "error"})
        for inp in inputs:
            state.update(inp)
    assert state.evictions == 2  # b (for c), then a (for b again)
    assert list(state.groups) == [("c",), ("b",)]


def test_advance_forgets_groups_whose_window_is_empty(load_rules):
    ruleset = load_rules(correlation("event_count", "{gte: 2}"))
    state = ruleset.new_correlation_state("corr")
    for event in errors("al", [0]) + errors("bo", [500]):
        for inp in ruleset.evaluate(event)[1]:
            state.update(inp)
    assert state.advance(650.0) == []
    assert list(state.groups) == [("bo",)]


def test_state_survives_a_pickle_round_trip_mid_window(load_rules):
    ruleset = load_rules(correlation("value_sum", "{gt: 10, field: cost}"))
    state = ruleset.new_correlation_state("corr")
    for inp in ruleset.evaluate(errors("al", [0], cost=6.0)[0])[1]:
        state.update(inp)
    restored = pickle.loads(pickle.dumps(state))
    [inp] = ruleset.evaluate(errors("al", [1], cost=6.0)[0])[1]
    assert [h.evidence["sum"] for h in restored.update(inp)] == [12.0]


def test_memory_per_group_is_bounded(load_rules):
    counting = load_rules(correlation("event_count", "{gte: 1000000}"))
    state = counting.new_correlation_state("corr")
    distinct = load_rules(correlation("value_count", "{gte: 100000, field: repo}"))
    dstate = distinct.new_correlation_state("corr")
    median = load_rules(correlation("value_median", "{gte: 1000000, field: cost}"))
    mstate = median.new_correlation_state("corr")
    for i in range(20000):
        event = {"time": i * 0.01, "user": "al", "status": "error", "repo": f"r{i}", "cost": i}
        for inp in counting.evaluate(event)[1]:
            state.update(inp)
        for inp in distinct.evaluate(event)[1]:
            dstate.update(inp)
        for inp in median.evaluate(event)[1]:
            mstate.update(inp)
    assert len(state.groups[("al",)].buckets) <= BUCKETS_PER_WINDOW + 1
    assert state.groups[("al",)].count == 20000
    assert len(dstate.groups[("al",)].seen) == DISTINCT_CAP
    sample = mstate.groups[("al",)]
    assert len(sample.values) <= SAMPLE_CAP
    assert abs(sample.percentile(50) - 10000) < 200  # the thinned sample stays representative


@functools.cache
def counting_ruleset() -> RuleSet:
    path = Path(tempfile.mkdtemp()) / "count.yml"
    path.write_text(correlation("event_count", "{gte: 1}"), encoding="utf-8")
    return RuleSet.load([path])


@settings(max_examples=60, deadline=None)
@given(gaps=st.lists(st.integers(min_value=3, max_value=400), min_size=1, max_size=40))
def test_sliding_count_equals_a_brute_force_count(gaps):
    """With events further apart than timespan/256 every window edge is exact."""
    ruleset = counting_ruleset()
    times, t = [], 0
    for gap in gaps:
        t += gap
        times.append(t)
    hits = corr_hits(ruleset, errors("al", times))
    counts = [h.evidence["events"] for h in hits]
    expected = [sum(1 for u in times if t - 600 < u <= t) for t in times]
    assert counts == expected
