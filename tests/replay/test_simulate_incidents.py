"""Injected incidents: a truth line for each, and each one really is in the data, detectably."""

from __future__ import annotations

import datetime as dt
import itertools
import statistics
from collections import Counter

import pytest

from replay.population import build_organisation
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
HOUR = 3600.0


def seconds(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def window(truth: dict) -> tuple[float, float]:
    return seconds(truth["start"]), seconds(truth["end"])


def truths_of(sim: Simulated, kind: str) -> list[dict]:
    found = [t for t in sim.truths if t["kind"] == kind]
    assert found, f"no {kind} injected"
    return found


def inside(event: dict, lo: float, hi: float) -> bool:
    return lo <= event["time"] <= hi


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


def test_user_incidents_are_spaced_out(week: Simulated) -> None:
    spans = sorted(window(t) for t in week.truths if t["kind"] in USER_KINDS)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start - end > 10 * 60


def test_cost_spike_is_ten_times_the_users_usual_hour_and_over_budget(week: Simulated) -> None:
    for truth in truths_of(week, "cost_spike"):
        user, (lo, hi) = truth["group"]["user"], window(truth)
        assert hi - lo <= 1.1 * HOUR
        mine = [e for e in calls(week) if e["user"] == user]
        spike = sum(e["cost_estimate"] for e in mine if inside(e, lo, hi))
        usual = Counter()
        for e in mine:
            if not inside(e, lo - HOUR, hi + HOUR):
                usual[int(e["time"] // HOUR)] += e["cost_estimate"]
        assert spike > 25
        assert spike > 10 * statistics.median(usual.values())
        counts = Counter(int(e["time"] // HOUR) for e in mine if not inside(e, lo, hi))
        assert sum(1 for e in mine if inside(e, lo, hi)) > 10 * statistics.median(counts.values())


def test_token_burn_drift_doubles_a_teams_tokens_per_invocation(week: Simulated) -> None:
    for truth in truths_of(week, "token_burn_drift"):
        team, (lo, hi) = truth["group"]["team"], window(truth)
        mine = [e for e in calls(week) if e["team"] == team and e["status"] == "ok"]
        late = [e["tokens_in"] for e in mine if inside(e, (lo + hi) / 2, hi)]
        outside = [e["tokens_in"] for e in mine if not inside(e, lo, hi)]
        assert len(late) > 20
        assert statistics.mean(late) > 1.8 * statistics.mean(outside)


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


def test_a_pr_without_a_passing_assertion_is_always_an_injected_incident(week: Simulated) -> None:
    passed_at: dict[str, float] = {}
    unchecked = []
    for e in sorted(week.events, key=lambda e: e["end"]):
        if e["name"] == "assertion" and e["assertion.passed"]:
            passed_at.setdefault(e["session.id"], e["end"])
        if e["name"] == "pr.create" and passed_at.get(e["session.id"], float("inf")) > e["time"]:
            unchecked.append(e)
    truths = truths_of(week, "pr_without_passing_assertions")
    assert len(unchecked) == len(truths)
    for truth in truths:
        lo, hi = window(truth)
        assert any(e["user"] == truth["group"]["user"] and inside(e, lo, hi) for e in unchecked)


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
