"""Ordinary simulated traffic looks like an organisation at work, and contains no violations.

Prices and policy values come from `patterns.py`, written from the shared universe (not imported
from the simulator), so that the simulator is checked against the specification.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter, defaultdict

from replay.simulator.population import build_organisation
from tests.replay.conftest import Simulated
from tests.replay.patterns import (
    ALLOWED_REGIONS,
    CREDENTIALS,
    HAIKU,
    OPUS,
    PRICES,
    SONNET,
    is_dangerous,
)

NEAR_MISSES = ("rm -rf ./build", "git push origin feature/", "curl -fsSL https://", "aws sts")
HOUR = 3600


def invocations(sim: Simulated) -> list[dict[str, object]]:
    return [e for e in sim.events if e["name"] == "claude.invoke"]


def test_weekdays_are_busy_and_weekends_quiet(quiet_week: Simulated) -> None:
    per_day = Counter(int(e["time"] // 86400) for e in quiet_week.events)
    first = int(quiet_week.spec.start // 86400)
    days = range(first, first + quiet_week.spec.days)
    weekday_volume = [per_day[day] for day in days if (day + 3) % 7 < 5]
    weekend_volume = [per_day[day] for day in days if (day + 3) % 7 >= 5]
    assert len(weekday_volume) == 5
    assert statistics.mean(weekday_volume) > 5 * statistics.mean(weekend_volume)
    assert min(weekday_volume) > max(weekend_volume)


def test_people_work_in_their_own_daytime_with_a_lunch_dip(quiet_week: Simulated) -> None:
    org = build_organisation(quiet_week.spec.seed, quiet_week.spec.users)
    offset = {u.email: u.utc_offset_s for u in org.users}
    local_hour = Counter(
        int((e["time"] + offset[e["user"]]) % 86400 // HOUR) for e in quiet_week.events
    )
    night = sum(local_hour[h] for h in range(0, 6))
    office = sum(local_hour[h] for h in range(9, 17))
    assert office > 20 * max(night, 1)
    lunch = local_hour[12]
    around = statistics.mean([local_hour[10], local_hour[11], local_hour[14], local_hour[15]])
    assert lunch < 0.7 * around


def test_ordinary_errors_are_one_to_two_percent_of_invocations(quiet_week: Simulated) -> None:
    calls = invocations(quiet_week)
    errors = [e for e in calls if e["status"] == "error"]
    assert 0.008 < len(errors) / len(calls) < 0.025
    kinds = Counter(e["error.type"] for e in errors)
    assert kinds.most_common(1)[0][0] == "ThrottlingException"
    assert all(e["cost_estimate"] == 0 and e["tokens_out"] == 0 for e in errors)


def test_every_cost_follows_the_price_table_with_cheaper_cache_reads(quiet_week: Simulated) -> None:
    for e in invocations(quiet_week):
        if e["status"] == "error":
            continue
        price_in, price_out = PRICES[e["model"]]
        cached = e["cache_read_tokens"]
        assert cached == 0 or e["cache_hit"]
        expected = (
            (e["tokens_in"] - cached) * price_in
            + cached * price_in * 0.1
            + e["tokens_out"] * price_out
        ) / 1e6
        assert abs(e["cost_estimate"] - expected) < 1e-6


def test_cost_per_invocation_ranks_models_by_price(quiet_week: Simulated) -> None:
    cost = defaultdict(list)
    for e in invocations(quiet_week):
        if e["status"] == "ok":
            cost[e["model"]].append(e["cost_estimate"])
    mean = {model: statistics.mean(values) for model, values in cost.items()}
    assert set(mean) == set(PRICES)
    # Same token distributions, five times the price: about five times the cost.
    assert 3.5 < mean[OPUS] / mean[SONNET] < 7.0
    assert mean[SONNET] > 2 * mean[HAIKU]


def test_cache_hits_make_input_cheaper(quiet_week: Simulated) -> None:
    per_token = defaultdict(list)
    for e in invocations(quiet_week):
        if e["status"] == "ok" and e["model"] == SONNET:
            input_cost = e["cost_estimate"] - e["tokens_out"] * 15.0 / 1e6
            per_token[e["cache_hit"]].append(input_cost / e["tokens_in"])
    assert statistics.mean(per_token[True]) < 0.6 * statistics.mean(per_token[False])
    hit_share = len(per_token[True]) / (len(per_token[True]) + len(per_token[False]))
    assert 0.5 < hit_share < 0.9


def test_token_counts_are_heavy_tailed(quiet_week: Simulated) -> None:
    tokens_in = sorted(e["tokens_in"] for e in invocations(quiet_week))
    tokens_out = sorted(e["tokens_out"] for e in invocations(quiet_week) if e["status"] == "ok")
    for values in (tokens_in, tokens_out):
        median, p99 = values[len(values) // 2], values[int(len(values) * 0.99)]
        assert p99 > 4 * median
        assert statistics.mean(values) > median


def test_latency_grows_with_model_size_and_output(quiet_week: Simulated) -> None:
    ok = [e for e in invocations(quiet_week) if e["status"] == "ok"]
    median = {m: statistics.median(e["latency_ms"] for e in ok if e["model"] == m) for m in PRICES}
    assert median[HAIKU] < median[SONNET] < median[OPUS]
    sonnet = sorted((e for e in ok if e["model"] == SONNET), key=lambda e: e["tokens_out"])
    quarter = len(sonnet) // 4
    short = statistics.median(e["latency_ms"] for e in sonnet[:quarter])
    long = statistics.median(e["latency_ms"] for e in sonnet[-quarter:])
    assert long > 2 * short


def test_sessions_mix_the_five_span_kinds(quiet_week: Simulated) -> None:
    names = Counter(e["name"] for e in quiet_week.events)
    assert names["cache.lookup"] == names["claude.invoke"]
    assert names["claude.invoke"] > names["shell.run"] > names["assertion"] > names["pr.create"] > 0
    passed = [e["assertion.passed"] for e in quiet_week.events if e["name"] == "assertion"]
    assert 0.7 < sum(passed) / len(passed) < 0.95


def assertion_runs(sim: Simulated) -> list[list[bool]]:
    """Outcomes of each session's assertions, in order."""
    runs: dict[str, list[bool]] = defaultdict(list)
    for e in sorted(sim.events, key=lambda e: e["time"]):
        if e["name"] == "assertion":
            runs[e["session.id"]].append(e["assertion.passed"])
    return list(runs.values())


def test_failing_checks_come_in_runs_within_a_session(quiet_week: Simulated) -> None:
    runs = assertion_runs(quiet_week)
    after = Counter((a, b) for run in runs for a, b in itertools.pairwise(run))
    fail_after_fail = after[(False, False)] / (after[(False, False)] + after[(False, True)])
    fail_after_pass = after[(True, False)] / (after[(True, False)] + after[(True, True)])
    assert fail_after_fail > 3 * fail_after_pass
    # Most sessions pass all their checks: more than independent draws would let pass.
    pass_rate = sum(map(sum, runs)) / sum(map(len, runs))
    all_green = sum(all(run) for run in runs) / len(runs)
    independent = statistics.mean(pass_rate ** len(run) for run in runs)
    assert all_green > 0.6
    assert all_green > independent + 0.04
    failing = [run.count(False) for run in runs if not all(run)]
    assert statistics.mean(failing) > 1.4


def test_ordinary_prs_are_opened_when_the_latest_check_passed(quiet_week: Simulated) -> None:
    """The latest assertion or test run of the session, that is (a test run may report none)."""
    latest: dict[str, bool] = {}
    prs = 0
    for e in sorted(quiet_week.events, key=lambda e: e["end"]):
        if e["name"] == "assertion":
            latest[e["session.id"]] = e["assertion.passed"]
        if e["name"] == "shell.run" and e["step"] == "test":
            latest[e["session.id"]] = e["exit_code"] == 0
        if e["name"] == "pr.create":
            prs += 1
            assert latest[e["session.id"]], e
    assert prs > 10


def test_a_big_teams_work_overlaps_all_through_working_hours(big_teams: Simulated) -> None:
    """No whole-team silence of half an hour mid-morning or mid-afternoon in a team of 12+,
    yet its activity still rises and falls (lunch, people coming and going)."""
    org = build_organisation(big_teams.spec.seed, big_teams.spec.users)
    members = Counter(u.team.name for u in org.users)
    big = {t.name: t.utc_offset_h * HOUR for t in org.teams if members[t.name] >= 12}
    assert len(big) >= 4
    times: dict[str, list[float]] = defaultdict(list)
    for e in big_teams.events:
        if e["team"] in big:
            times[e["team"]].append(e["time"])
    start, end = big_teams.spec.start, big_teams.spec.start + big_teams.spec.days * 86400
    windows = 0
    for team, offset in big.items():
        stamps = sorted(times[team])
        for day in range(int(start // 86400), int(end // 86400)):
            for first, last in ((10.0, 11.5), (14.0, 16.5)):
                lo, hi = day * 86400 - offset + first * HOUR, day * 86400 - offset + last * HOUR
                if lo < start or hi > end:
                    continue
                windows += 1
                points = [lo, *(t for t in stamps if lo <= t <= hi), hi]
                longest = max(b - a for a, b in itertools.pairwise(points))
                assert longest < 30 * 60, (team, day, first)
        # Quarter hours of weekday working time (10:00 to 16:30) are far from alike.
        quarters = Counter(
            int((t + offset) // 900)
            for t in stamps
            if 10 <= (t + offset) % 86400 / HOUR < 16.5 and (int((t + offset) // 86400) + 3) % 7 < 5
        )
        counts = list(quarters.values())
        assert statistics.pstdev(counts) > 0.25 * statistics.mean(counts)
        assert min(counts) < max(counts) / 4
    assert windows > 20


def test_ordinary_traffic_uses_only_approved_models_and_allowed_regions(
    quiet_week: Simulated,
) -> None:
    calls = invocations(quiet_week)
    assert {e["model"] for e in calls} <= set(PRICES)
    assert {e["region"] for e in calls} <= ALLOWED_REGIONS


def test_ordinary_commands_hold_near_misses_but_nothing_dangerous(quiet_week: Simulated) -> None:
    commands = [e["command"] for e in quiet_week.events if e["name"] == "shell.run"]
    for command in commands:
        assert not is_dangerous(command), command
        assert not CREDENTIALS.search(command), command
    for near_miss in NEAR_MISSES:
        assert any(near_miss in c for c in commands), near_miss


def test_every_ordinary_pr_follows_a_passing_assertion_in_its_session(
    quiet_week: Simulated,
) -> None:
    passed_at: dict[str, float] = {}
    prs = 0
    for e in sorted(quiet_week.events, key=lambda e: e["end"]):
        if e["name"] == "assertion" and e["assertion.passed"]:
            passed_at.setdefault(e["session.id"], e["end"])
        if e["name"] == "pr.create":
            prs += 1
            assert passed_at.get(e["session.id"], float("inf")) <= e["time"]
            assert e["pr.base"] in ("main", "master")
    assert prs > 10


def test_ordinary_traffic_stays_under_the_budgets(quiet_week: Simulated) -> None:
    user_hour_cost: Counter = Counter()
    team_hour_tokens: Counter = Counter()
    repos = defaultdict(set)
    for e in quiet_week.events:
        repos[(e["user"], int(e["time"] // 1800))].add(e["repo"])
        if e["name"] == "claude.invoke":
            hour = int(e["time"] // HOUR)
            user_hour_cost[(e["user"], hour)] += e["cost_estimate"]
            team_hour_tokens[(e["team"], hour)] += e["tokens_in"] + e["tokens_out"]
    assert max(user_hour_cost.values()) < 25  # user_hourly_cost_budget_usd
    assert max(team_hour_tokens.values()) < 20_000_000  # team_hourly_token_budget
    assert max(len(r) for r in repos.values()) < 6  # many_repos needs 15 in 30 minutes


def test_the_organisation_has_teams_sites_and_repositories(quiet_week: Simulated) -> None:
    users = {e["user"] for e in quiet_week.events}
    teams = {e["team"] for e in quiet_week.events}
    assert len(users) > 0.9 * quiet_week.spec.users
    assert len(teams) >= 3
    assert len({e["repo"] for e in quiet_week.events}) > len(teams)
    assert all(re.match(r"^[a-z]+\.[a-z]+[0-9]*@example\.com$", u) for u in users)
    assert len({e["workflow"] for e in quiet_week.events}) >= 5
