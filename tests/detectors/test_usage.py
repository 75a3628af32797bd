"""Usage rollups: totals are conserved whatever the label budget, people are counted once."""

from __future__ import annotations

import doctest

from hypothesis import given, settings
from hypothesis import strategies as st

import detectors.usage
from detectors.usage import OTHER, UNKNOWN, UsageRollup, round_latency

DAY = 86400.0

calls = st.fixed_dictionaries(
    {
        "time": st.floats(1.7e9, 1.7e9 + 10 * DAY),
        "name": st.sampled_from(["claude.invoke", "claude_code.api_request", "shell.run"]),
        "team": st.sampled_from(["pay", "search", "", None, "ops", "ml"]),
        "repo": st.sampled_from([f"r{i}" for i in range(12)]),
        "user": st.sampled_from([f"u{i}" for i in range(30)]),
        "session": st.sampled_from([None, "s1", "s2", "s3"]),
        "tokens_in": st.one_of(st.integers(0, 10_000), st.just(float("nan")), st.just("9")),
        "latency_ms": st.one_of(st.floats(0, 600_000), st.none()),
    }
)


def test_the_docstring_example_holds():
    assert doctest.testmod(detectors.usage).failed == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(calls, max_size=120), st.integers(1, 4), st.integers(1, 6))
def test_label_budgets_fold_into_other_and_lose_no_call(events, max_values, max_series):
    rollup = UsageRollup(max_values=max_values, max_series=max_series)
    plain = UsageRollup()
    for event in events:
        rollup.observe(dict(event))
        plain.observe(dict(event))
    assert sum(t.calls for t in rollup.totals.values()) == sum(
        t.calls for t in plain.totals.values()
    )
    assert sum(t.tokens_in for t in rollup.totals.values()) == sum(
        t.tokens_in for t in plain.totals.values()
    )
    assert len(rollup.totals) <= max_series + 1  # and the all-`other` series
    for dimension, budget in rollup.labels.items():
        named = {getattr(k, dimension) for k in rollup.totals} - {OTHER, UNKNOWN}
        assert len(named) <= max_values, dimension
        assert named <= budget.kept
    assert (
        sum(sum(c) for c in rollup.latency.values())
        == sum(1 for e in _calls(events) if e["latency_ms"] is not None)
        or not rollup.totals
    )


def _calls(events: list[dict]) -> list[dict]:
    """The calls as the rollup counts them, in order: Claude Code's events of a session that
    sent a span before them are left out (by position: equal events may repeat)."""
    counted, with_spans = [], set()
    for event in events:
        if event["name"] == "claude.invoke":
            counted.append(event)
            with_spans.add(event["session"])
        elif event["name"] == "claude_code.api_request" and (
            not event["session"] or event["session"] not in with_spans
        ):
            counted.append(event)
    return counted


@settings(max_examples=60, deadline=None)
@given(st.lists(calls, max_size=120))
def test_active_users_are_those_with_a_call_in_the_window(events):
    rollup = UsageRollup()
    for event in events:
        rollup.observe(dict(event))
    counted = _calls(events)
    if not counted:
        assert rollup.active_users("1d")["all"] == 0
        return
    now = max(e["time"] for e in events)
    for window, span in (("1d", DAY), ("7d", 7 * DAY)):
        expected = {e["user"] for e in counted if e["time"] >= now - span}
        assert rollup.active_users(window)["all"] == len(expected)
        by_repo = rollup.active_users_by("repo", window)
        for repo in {e["repo"] for e in counted}:
            users = {e["user"] for e in counted if e["repo"] == repo and e["time"] >= now - span}
            assert by_repo.get(repo, 0) == len(users)


def test_top_users_name_the_busiest_of_the_day_and_sum_the_rest():
    rollup = UsageRollup()
    day = 1_800_000_000 // 86400 * 86400.0
    for i, (user, n) in enumerate([("ann", 5), ("bob", 3), ("cy", 2), ("di", 1)]):
        for k in range(n):
            rollup.observe(
                {"time": day + 60 * (i * 10 + k), "name": "claude.invoke", "user": user, "cost": 1}
            )
    rollup.observe({"time": day - 10, "name": "claude.invoke", "user": "eve"})  # yesterday
    assert rollup.top_users(2, "calls") == [("ann", 5.0), ("bob", 3.0), (OTHER, 3.0)]
    assert rollup.top_users(0, "calls") == []
    assert rollup.top_users(9, "cost") == [("ann", 5.0), ("bob", 3.0), ("cy", 2.0), ("di", 1.0)]


def test_minutes_are_kept_only_when_asked_and_drained_once():
    quiet = UsageRollup()
    quiet.observe({"time": 120.5, "name": "claude.invoke", "team": "pay"})
    assert quiet.drain_minutes() == []
    rollup = UsageRollup(minutes=True)
    for t, ms in ((120.5, 1234.0), (150.0, 1240.0), (60.0, 80.0)):
        rollup.observe({"time": t, "name": "claude.invoke", "team": "pay", "latency_ms": ms})
    rollup.observe({"time": 130.0, "name": "shell.run", "team": "pay"}, ["pipe-to-shell"])
    first, second = rollup.drain_minutes()
    assert (first.start, first.overall.calls, dict(first.overall.latency_ms)) == (
        60.0,
        1,
        {80.0: 1},
    )
    assert second.overall.calls == 2 and dict(second.overall.latency_ms) == {1200.0: 2}
    assert second.policy_hits == {("pay", UNKNOWN, UNKNOWN): 1}
    assert rollup.drain_minutes() == []


@given(st.floats(0.001, 1e7))
def test_rounded_latencies_keep_two_significant_digits(ms):
    rounded = round_latency(ms)
    assert abs(rounded - ms) <= 0.05 * ms + 1e-9
