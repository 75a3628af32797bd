"""Injected incidents: a truth line for each, and each one really is in the data, detectably."""

from __future__ import annotations

import datetime as dt
import itertools
import statistics
from collections import Counter

import pytest

from replay.simulator.population import build_organisation
from tests.replay.conftest import Simulated
from tests.replay.patterns import CREDENTIALS, DISALLOWED_REGION, FORBIDDEN_MODEL, is_dangerous

KINDS = {
    "cost_spike",
    "token_burn_drift",
    "latency_degradation",
    "error_burst",
    "forbidden_model",
    "disallowed_region",
    "dangerous_command",
    "credential_in_command",
    "pr_without_passing_assertions",
    "many_repos",
    "team_silent",
}
USER_KINDS = KINDS - {"token_burn_drift", "latency_degradation", "team_silent"}
# Kinds that no rule can see: only against what a detector learned of the group's usual traffic.
NEEDS_BASELINE = {
    "cost_spike",
    "token_burn_drift",
    "latency_degradation",
    "error_burst",
    "team_silent",
}
HOUR = 3600.0
DAY = 86400.0


def seconds(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def window(truth: dict) -> tuple[float, float]:
    return seconds(truth["start"]), seconds(truth["end"])


def truths_of(sim: Simulated, kind: str) -> list[dict]:
    found = [t for t in sim.truths if t["kind"] == kind]
    assert found, f"no {kind} injected"
    return found


def inside(event: dict, lo: float, hi: float) -> bool:
    """Within [lo, hi], give or take the last bit of float seconds made of nanoseconds."""
    return lo - 1e-6 <= event["time"] <= hi + 1e-6


def calls(sim: Simulated) -> list[dict]:
    return [e for e in sim.events if e["name"] == "claude.invoke"]


def test_the_truth_file_has_every_kind_with_the_documented_fields(week: Simulated) -> None:
    assert {t["kind"] for t in week.truths} == KINDS
    assert len(week.truths) == len(week.summary.incidents) >= 2 * len(KINDS)
    for truth in week.truths:
        assert set(truth) == {"kind", "start", "end", "group", "severity", "description", "details"}
        assert truth["start"].endswith("Z") and truth["end"].endswith("Z")
        lo, hi = window(truth)
        assert week.spec.start <= lo <= hi <= week.spec.start + week.spec.days * 86400
        assert set(truth["group"]) in ({"user"}, {"team"}, {"model", "region"})
        assert truth["severity"] in ("info", "low", "medium", "high", "critical")
        assert truth["description"]
    starts = [seconds(t["start"]) for t in week.truths]
    assert starts == sorted(starts)


def local_start(sim: Simulated, truth: dict) -> float | None:
    """The incident's start on the local clock of the user or team it concerns."""
    org = build_organisation(sim.spec.seed, sim.spec.users)
    group = truth["group"]
    if "user" in group:
        (user,) = [u for u in org.users if u.email == group["user"]]
        return window(truth)[0] + user.utc_offset_s
    if "team" in group:
        (team,) = [t for t in org.teams if t.name == group["team"]]
        return window(truth)[0] + team.utc_offset_h * HOUR
    return None


def test_incidents_start_in_working_hours_of_weekdays_spread_over_the_week(
    week: Simulated,
) -> None:
    days = set()
    for truth in week.truths:
        local = local_start(week, truth)
        if local is None:  # a model in a region: no single clock
            continue
        day, hour = int(local // 86400), local % 86400 / HOUR
        assert (day + 3) % 7 < 5, truth
        assert 8 <= hour <= 17, truth
        days.add(day)
    assert len(days) >= 4


def test_incidents_that_need_a_baseline_come_after_two_days_of_history(week: Simulated) -> None:
    """A week gives online detectors two days to learn before anything needs what they learned;
    what a rule sees at once can happen from the first day."""
    history_end = week.spec.start + 2 * DAY
    learned = [t for t in week.truths if t["kind"] in NEEDS_BASELINE]
    assert {t["kind"] for t in learned} == NEEDS_BASELINE
    assert all(seconds(t["start"]) >= history_end for t in learned)
    early = [t for t in week.truths if seconds(t["start"]) < history_end]
    assert len({t["kind"] for t in early}) >= 3
    # Apart from each other, but for a drift (all day long, of a team no one else belongs to).
    spans = sorted(window(t) for t in learned if t["kind"] != "token_burn_drift")
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start - end > 10 * 60


def test_user_incidents_are_spaced_out(week: Simulated) -> None:
    spans = sorted(window(t) for t in week.truths if t["kind"] in USER_KINDS)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start - end > 10 * 60


def ordinary_calls(sim: Simulated) -> list[dict]:
    """Invocations outside every user-level incident (ten minutes either side) of their user."""
    windows = [(t["group"]["user"], *window(t)) for t in sim.truths if "user" in t["group"]]
    return [
        e
        for e in calls(sim)
        if not any(e["user"] == u and lo - 600 <= e["time"] <= hi + 600 for u, lo, hi in windows)
    ]


def test_a_runaway_agent_loops_at_ten_times_its_users_busiest_hour(week: Simulated) -> None:
    busiest_five_minutes = max(
        Counter((e["user"], int(e["time"] // 300)) for e in ordinary_calls(week)).values()
    )
    for truth in truths_of(week, "cost_spike"):
        user, (lo, hi) = truth["group"]["user"], window(truth)
        assert 0.9 * HOUR <= hi - lo <= 1.1 * HOUR
        mine = [e for e in calls(week) if e["user"] == user]
        spike = [e for e in mine if inside(e, lo, hi)]
        usual_calls, usual_cost = Counter(), Counter()
        for e in mine:
            if not inside(e, lo - HOUR, hi + HOUR):
                usual_calls[int(e["time"] // HOUR)] += 1
                usual_cost[int(e["time"] // HOUR)] += e["cost_estimate"]
        hours = (hi - lo) / HOUR
        rate, cost_rate = len(spike) / hours, sum(e["cost_estimate"] for e in spike) / hours
        # Ten times the user's busiest hour of ordinary work, let alone a usual one.
        assert rate > 10 * max(usual_calls.values())
        assert cost_rate > 10 * max(usual_cost.values())
        assert cost_rate > 25  # over the hourly cost budget
        assert truth["details"]["invocations"] <= len(spike)  # and the user's own calls
        # The loop keeps it up: any five minutes of it beat anyone's busiest five minutes thrice.
        per_five = Counter(int(e["time"] // 300) for e in spike)
        whole = range(int(-(-lo // 300)), int(hi // 300))
        assert min(per_five[w] for w in whole) > 3 * busiest_five_minutes


def test_token_burn_drift_triples_a_teams_tokens_over_its_working_day(week: Simulated) -> None:
    org = build_organisation(week.spec.seed, week.spec.users)
    for truth in truths_of(week, "token_burn_drift"):
        team, (lo, hi) = truth["group"]["team"], window(truth)
        (offset,) = [t.utc_offset_h * HOUR for t in org.teams if t.name == team]
        # The truth window is the drift itself: one working day of the team, morning to evening.
        assert 8.5 <= (lo + offset) % DAY / HOUR <= 9.5
        assert 16.5 <= (hi + offset) % DAY / HOUR <= 17.5
        mine = [e for e in calls(week) if e["team"] == team and e["status"] == "ok"]
        outside = statistics.median(e["tokens_in"] for e in mine if not inside(e, lo, hi))
        quarter = (hi - lo) / 4
        first = [e for e in mine if inside(e, lo, lo + quarter)]
        last = [e for e in mine if inside(e, hi - quarter, hi)]
        # Several people at work while it creeps up, and it shows.
        assert len({e["user"] for e in first}) >= 3 and len({e["user"] for e in last}) >= 3
        assert len(first) > 30 and len(last) > 30
        assert statistics.median(e["tokens_in"] for e in first) < 1.5 * outside
        assert statistics.median(e["tokens_in"] for e in last) > 2.2 * outside


def test_latency_degradation_slows_one_model_in_one_region(week: Simulated) -> None:
    for truth in truths_of(week, "latency_degradation"):
        model, region = truth["group"]["model"], truth["group"]["region"]
        lo, hi = window(truth)
        ok = [e for e in calls(week) if e["status"] == "ok"]
        hit = [e["latency_ms"] for e in ok if e["model"] == model and e["region"] == region]
        during = [
            e["latency_ms"]
            for e in ok
            if e["model"] == model and e["region"] == region and inside(e, lo, hi)
        ]
        assert len(during) > 10
        assert statistics.median(during) > 3 * statistics.median(hit)
        for other in {(e["model"], e["region"]) for e in ok} - {(model, region)}:
            same = [e for e in ok if (e["model"], e["region"]) == other]
            meanwhile = [e["latency_ms"] for e in same if inside(e, lo, hi)]
            if len(meanwhile) >= 10:
                usual = statistics.median(e["latency_ms"] for e in same)
                assert statistics.median(meanwhile) < 2 * usual, other


def test_error_burst_fails_a_large_share_of_one_users_calls(week: Simulated) -> None:
    for truth in truths_of(week, "error_burst"):
        user, (lo, hi) = truth["group"]["user"], window(truth)
        mine = [e for e in calls(week) if e["user"] == user]
        during = [e["status"] == "error" for e in mine if inside(e, lo, hi)]
        outside = [e["status"] == "error" for e in mine if not inside(e, lo, hi)]
        assert len(during) > 30 and sum(during) / len(during) > 0.3
        assert sum(outside) / max(1, len(outside)) < 0.06


@pytest.mark.parametrize(
    ("kind", "key", "value"),
    [
        ("forbidden_model", "model", FORBIDDEN_MODEL),
        ("disallowed_region", "region", DISALLOWED_REGION),
    ],
)
def test_forbidden_models_and_regions_appear_only_in_their_incidents(
    week: Simulated, kind: str, key: str, value: str
) -> None:
    windows = [(t["group"]["user"], *window(t)) for t in truths_of(week, kind)]
    offending = [e for e in calls(week) if e[key] == value]
    for user, lo, hi in windows:
        assert sum(1 for e in offending if e["user"] == user and inside(e, lo, hi)) >= 3
    for e in offending:
        assert any(e["user"] == u and inside(e, lo, hi) for u, lo, hi in windows)


def test_dangerous_commands_and_credentials_appear_only_in_their_incidents(
    week: Simulated,
) -> None:
    shells = [e for e in week.events if e["name"] == "shell.run"]
    for kind, bad in (
        ("dangerous_command", is_dangerous),
        ("credential_in_command", lambda c: bool(CREDENTIALS.search(c))),
    ):
        truths = truths_of(week, kind)
        flagged = [e for e in shells if bad(e["command"])]
        assert len(flagged) == len(truths)
        for truth in truths:
            lo, hi = window(truth)
            (match,) = [
                e for e in flagged if e["user"] == truth["group"]["user"] and inside(e, lo, hi)
            ]
            assert match["command"] == truth["details"]["command"]


def test_a_pr_over_failing_checks_is_always_an_injected_incident(week: Simulated) -> None:
    """The default rule's signal: the session's latest check before the pull request (an
    assertion, or a test run that reported none) failed. Every injected one has it, no ordinary
    pull request does."""
    latest: dict[str, bool] = {}
    over_failing = []
    for e in sorted(week.events, key=lambda e: e["end"]):
        if e["name"] == "assertion":
            latest[e["session.id"]] = e["assertion.passed"]
        if e["name"] == "shell.run" and e["step"] == "test":
            latest[e["session.id"]] = e["exit_code"] == 0
        if e["name"] == "pr.create" and latest.get(e["session.id"]) is False:
            over_failing.append(e)
    truths = truths_of(week, "pr_without_passing_assertions")
    assert truths
    assert len(over_failing) == len(truths)
    for truth in truths:
        assert truth["details"]["assertions"] == "failing"
        lo, hi = window(truth)
        assert any(e["user"] == truth["group"]["user"] and inside(e, lo, hi) for e in over_failing)


def test_many_repos_touches_fifteen_repositories_within_half_an_hour(week: Simulated) -> None:
    for truth in truths_of(week, "many_repos"):
        user, (lo, hi) = truth["group"]["user"], window(truth)
        assert hi - lo <= 30 * 60
        repos = {e["repo"] for e in week.events if e["user"] == user and inside(e, lo, hi)}
        assert len(repos) >= 15


def test_a_silent_team_sends_nothing_in_working_time_it_usually_fills(week: Simulated) -> None:
    for truth in truths_of(week, "team_silent"):
        team, (lo, hi) = truth["group"]["team"], window(truth)
        assert hi - lo >= 2 * HOUR
        mine = [e for e in week.events if e["team"] == team]
        assert not [e for e in mine if lo <= e["time"] < hi]
        same_hours_other_days = [
            e
            for e in mine
            if lo % 86400 <= e["time"] % 86400 < hi % 86400
            and int(e["time"] // 86400) != int(lo // 86400)
            and (int(e["time"] // 86400) + 3) % 7 < 5
        ]
        assert len(same_hours_other_days) > 4 * 10 * 2  # four other weekdays, busy hours


def test_without_incidents_there_is_no_truth_and_no_violation(quiet_week: Simulated) -> None:
    assert quiet_week.truths == []
    assert quiet_week.summary.incidents == ()
    assert not [e for e in calls(quiet_week) if e["model"] == FORBIDDEN_MODEL]
    assert not [e for e in calls(quiet_week) if e["region"] == DISALLOWED_REGION]
