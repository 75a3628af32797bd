"""`spanwatch: {norm: ...}`: user-session-churn judges a person against their own habits and,
for a newcomer, their team's; a runaway loop still pages within five minutes."""

from __future__ import annotations

import pickle
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rules
from rules.config import RulesConfig
from rules.model import RuleLoadError
from rules.norms import NORM_BINS, Norms, NormSpec
from rules.ruleset import RuleSet
from rules.testing import run_events

PACK = Path(rules.__file__).parent / "packs" / "claude_code"
RULE = "user-session-churn"
DAY = 86400.0
T0 = 1_767_571_200.0  # a Monday, 00:00 UTC


def pack() -> RuleSet:
    return RuleSet.load([PACK], RulesConfig())


def session(user: str, team: str, name: str, start: float, calls: int, every: float) -> list[dict]:
    """A session's model calls, `every` seconds apart."""
    return [
        {
            "time": start + k * every,
            "name": "claude.invoke",
            "user": user,
            "team": team,
            "session": name,
        }
        for k in range(calls)
    ]


def workdays(user: str, team: str, days: int, burst: int, rng: random.Random) -> list[dict]:
    """A person's working days: every half hour or so they open up to `burst` sessions within a
    minute and keep them going for twenty minutes with a call every two minutes."""
    events: list[dict] = []
    for day in range(days):
        t = T0 + day * DAY + 9 * 3600 + rng.uniform(0, 600)
        while t < T0 + day * DAY + 17 * 3600:
            for k in range(rng.randint(1, burst)):
                name = f"{user}-{day}-{int(t)}-{k}"
                events += session(user, team, name, t + rng.uniform(0, 60), 10, 120)
            t += rng.uniform(1200, 2400)
    return events


def loop(user: str, team: str, start: float, sessions: int, every: float) -> list[dict]:
    """A runaway agent: a new session every `every` seconds, two calls each."""
    events: list[dict] = []
    for k in range(sessions):
        events += session(user, team, f"{user}-loop-{start}-{k}", start + k * every, 2, 5)
    return events


def pages(events: list[dict], user: str | None = None) -> list[float]:
    events = sorted(events, key=lambda e: e["time"])
    hits = [h for h in run_events(pack(), events) if h.rule_id == RULE]
    return [h.time for h in hits if user is None or h.group["user"] == user]


def test_a_habit_of_starting_sessions_together_raises_the_persons_threshold() -> None:
    rng = random.Random(3)
    history = workdays("bo", "kiln", 3, 5, rng)
    day4 = T0 + 3 * DAY + 11 * 3600
    burst = [e for k in range(8) for e in session("bo", "kiln", f"b{k}", day4 + 20 * k, 10, 120)]
    floor = RulesConfig().values["user_sessions_per_5m"]
    assert isinstance(floor, int) and floor <= 8  # the count alone would page
    assert [t for t in pages(history + burst, "bo") if t >= day4] == []


def test_a_runaway_does_not_teach_its_own_norm() -> None:
    rng = random.Random(5)
    history = workdays("cy", "kiln", 2, 2, rng)
    first = T0 + 2 * DAY + 10 * 3600
    second = first + 2 * 3600
    runs = loop("cy", "kiln", first, 80, 30) + loop("cy", "kiln", second, 20, 30)
    times = pages(history + runs, "cy")
    assert any(first <= t <= first + 300 for t in times)
    assert any(second <= t <= second + 300 for t in times)


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    every=st.floats(12, 30),
    burst=st.integers(1, 4),
    newcomer=st.booleans(),
)
def test_a_loop_of_ten_or_more_sessions_in_five_minutes_pages_within_five(
    seed: int, every: float, burst: int, newcomer: bool
) -> None:
    """Whatever the habits of the person's team (up to four sessions at once), the person's
    own or, for a newcomer who never called before, the team's."""
    rng = random.Random(seed)
    team = [f"m{k}" for k in range(6)] + ([] if newcomer else ["rex"])
    history = [e for m in team for e in workdays(m, "kiln", 2, burst, rng)]
    start = T0 + 2 * DAY + rng.uniform(9, 16) * 3600
    times = [t for t in pages(history + loop("rex", "kiln", start, 30, every), "rex")]
    assert times and start <= times[0] <= start + 300


def test_people_of_other_teams_and_habits_raise_nothing() -> None:
    rng = random.Random(11)
    people = [(f"p{k}", f"team{k % 3}", 1 + k % 5) for k in range(12)]
    history = [e for user, team, burst in people for e in workdays(user, team, 2, burst, rng)]
    assert pages(history) == []


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 5), st.floats(0, 3 * DAY), st.integers(0, 90)),
        max_size=300,
    )
)
def test_norms_stay_bounded_and_pickle(updates: list[tuple[int, int, float, int]]) -> None:
    norms = Norms(NormSpec(), timespan=300.0, max_groups=8)
    for user, team, t, measured in sorted(updates, key=lambda u: u[2]):
        norms.reached((f"u{user}",), f"t{team}", t, float(measured), floor=measured >= 7)
        assert norms.threshold((f"u{user}",)) >= 0
    assert len(norms.groups) <= 8 and len(norms.parents) <= 8
    for norm in norms.groups.values():
        assert len(norm.history.weights) == NORM_BINS
    again = pickle.loads(pickle.dumps(norms))
    assert list(again.groups) == list(norms.groups)


def test_a_block_that_fired_is_not_learned() -> None:
    norms = Norms(NormSpec(by=None, prior=0), timespan=300.0, max_groups=10)
    for block in range(200):  # a habit of three sessions per block
        norms.reached(("ana",), "", block * 300.0, 3.0, floor=False)
    norms.reached(("ana",), "", 200 * 300.0, 40.0, floor=True)  # a runaway's block
    norms.reached(("ana",), "", 201 * 300.0, 1.0, floor=False)
    assert norms.threshold(("ana",)) == 6.0  # twice three: the runaway's 40 taught nothing


def test_a_page_shows_the_persons_threshold() -> None:
    hits = [h for h in run_events(pack(), loop("rex", "kiln", T0, 8, 20)) if h.rule_id == RULE]
    assert hits and hits[0].raw_evidence["threshold"] == 7.0


SHARE_RULES = """
title: call
name: call
logsource: {product: test}
detection: {sel: {name: call}, condition: sel}
---
title: failed
name: failed
logsource: {product: test}
detection: {sel: {name: call, status: error}, condition: sel}
---
title: burst
name: burst
level: high
correlation:
  type: %(kind)s
  rules: [failed, call]
  group-by: [user]
  timespan: 10m
  condition: {gte: 3%(field)s}
spanwatch:
  share: {of: %(of)s, min: 0.5}
"""


@pytest.mark.parametrize(
    ("kind", "field", "of", "message"),
    [
        ("value_count", ", field: session", "[call]", "`share` is for event_count"),
        ("event_count", "", "[other]", "`share.of` must name some"),
        ("event_count", "", "[call, failed]", "`share.of` must name some"),
    ],
)
def test_a_misused_share_is_a_load_error(
    load_rules, kind: str, field: str, of: str, message: str
) -> None:
    with pytest.raises(RuleLoadError, match=re.escape(message)):
        load_rules(SHARE_RULES % {"kind": kind, "field": field, "of": of})


def test_share_counts_failures_among_calls(load_rules) -> None:
    ruleset = load_rules(SHARE_RULES % {"kind": "event_count", "field": "", "of": "call"})
    calls = [{"time": T0 + k, "name": "call", "user": "ana", "status": "ok"} for k in range(4)]
    fails = [
        {"time": T0 + 10 + k, "name": "call", "user": "ana", "status": "error"} for k in range(3)
    ]
    assert [h for h in run_events(ruleset, calls + fails)] == []  # 3 of 7: under half
    more = [
        {"time": T0 + 20 + k, "name": "call", "user": "ana", "status": "error"} for k in range(2)
    ]
    hits = run_events(ruleset, calls + fails + more)
    assert [h.raw_evidence["share"] for h in hits] == [round(4 / 8, 4), round(5 / 9, 4)]


def test_a_newcomer_is_judged_by_the_teams_typical_person_not_its_busiest() -> None:
    rng = random.Random(17)
    team = [(f"m{k}", 7 if k < 2 else 2) for k in range(7)]  # two open up to seven at once
    history = [e for user, burst in team for e in workdays(user, "kiln", 2, burst, rng)]
    start = T0 + 2 * DAY + 14 * 3600
    times = pages(history + loop("newbie", "kiln", start, 30, 28), "newbie")
    assert times and times[0] <= start + 300
