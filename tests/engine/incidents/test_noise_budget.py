"""Noise budgets: past its budget, a rule's incidents fold into one storm incident."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.incidents.noise_budget import MAX_GROUPS, STORM_GROUP
from tests.engine.incidents.helpers import T0, book, hit, is_muted, moves, notes

HOUR = 3600.0
DAY = 24 * HOUR


def one_receiver(**route) -> dict:
    return {"route": {"receiver": "page", "group_wait": "30s", "group_by": ["rule_id"], **route}}


def notified_ids(out: list) -> set[str]:
    return {i["id"] for n in notes(out) for i in n.incidents}


def test_under_its_budget_a_rule_opens_and_notifies_as_usual():
    b = book(**one_receiver())
    out = []
    for i in range(10):
        out += b.on_hit(hit(T0 + 60 * i, user=f"u{i}", resolve_after=HOUR))
    out += b.advance(T0 + 900)
    opened = moves(out, "incident.opened")
    assert len(opened) == 10 and not any("folded_into" in t.incident for t in opened)
    assert notified_ids(out) == {t.incident["id"] for t in opened}


def test_past_its_budget_a_rule_folds_into_one_storm_that_names_it():
    b = book(**one_receiver())
    out = []
    for i in range(40):
        out += b.on_hit(hit(T0 + 30 * i, user=f"u{i}", severity="high"))
        out += b.on_hit(hit(T0 + 30 * i + 1, user=f"u{i}", severity="high"))  # an update
    out += b.advance(T0 + 1500)
    opened = moves(out, "incident.opened")
    storms = [t.incident for t in opened if t.incident["group"] == STORM_GROUP]
    assert len(storms) == 1
    storm = storms[0]
    folded = [t.incident for t in opened if "folded_into" in t.incident]
    plain = [t.incident for t in opened if t.incident not in folded and t.incident is not storm]
    # everything is in the incident log: ten as usual, thirty folded, and the storm
    assert (len(plain), len(folded)) == (10, 30)
    assert {f["folded_into"] for f in folded} == {storm["id"]}
    assert storm["rule_id"] == "shell-pipe-to-shell" and storm["labels"]["storm"] == "true"
    assert "Likely cause" in storm["title"] and "shell-pipe-to-shell" in storm["title"]
    # on-call hears of the ten and of the storm, never of a folded one
    sent = notified_ids(out)
    assert storm["id"] in sent and not sent & {f["id"] for f in folded}
    assert sent == {p["id"] for p in plain} | {storm["id"]}
    announced = [n for n in notes(out) if storm["id"] in {i["id"] for i in n.incidents}]
    assert len(announced) == 1
    # the storm counts what it folded and lists the groups folded most
    last = b.incident(storm["id"])
    assert last["count"] == 30 and last["storm"]["folded"] == 30
    assert last["storm"]["budget"] == 10 and last["storm"]["per_seconds"] == HOUR
    top = last["storm"]["top_groups"]
    assert len(top) == 5 and all(t["incidents"] == 1 for t in top)
    assert last["storm"]["other_groups"] == 25


def test_the_storm_takes_the_gravest_severity_it_folded():
    b = book(**one_receiver())
    out = []
    for i in range(12):
        out += b.on_hit(hit(T0 + i, user=f"u{i}", severity="critical" if i == 11 else "low"))
    storm = b.incident(
        next(t.incident["id"] for t in moves(out) if t.incident["group"] == STORM_GROUP)
    )
    assert storm["severity"] == "critical" and storm["count"] == 2


def test_a_rule_back_under_its_budget_notifies_again_and_its_storm_resolves():
    b = book(**one_receiver())
    out = []
    for i in range(15):
        out += b.on_hit(hit(T0 + i, user=f"u{i}", resolve_after=600))
    later = T0 + 2 * HOUR
    out += b.on_hit(hit(later, user="fresh", resolve_after=600))
    out += b.advance(later + 60)
    storm = [t for t in moves(out) if t.incident["group"] == STORM_GROUP]
    assert [t.type for t in storm] == ["incident.opened", "incident.resolved"]
    [fresh] = [
        t.incident
        for t in moves(out, "incident.opened")
        if t.incident["group"] == {"user": "fresh"}
    ]
    assert "folded_into" not in fresh and fresh["id"] in notified_ids(out)


def test_a_steady_drizzle_past_the_daily_budget_is_one_storm():
    b = book(**one_receiver(), noise_budget={"incidents": 10, "per": "1h", "per_day": 20})
    out = []
    for i in range(72):  # one new problem an hour for three days: never ten in an hour
        out += b.on_hit(hit(T0 + i * HOUR, user=f"u{i}", resolve_after=600))
        out += b.advance(T0 + i * HOUR + 1800)
    opened = moves(out, "incident.opened")
    storms = [t.incident for t in opened if t.incident["group"] == STORM_GROUP]
    folded = [t.incident for t in opened if "folded_into" in t.incident]
    plain = [t.incident for t in opened if t.incident["group"] != STORM_GROUP]
    plain = [i for i in plain if "folded_into" not in i]
    # the first twenty are routed as usual; while the drizzle goes on (twenty in every
    # trailing day, folded ones included) the rest are logged but fold into a single storm
    assert len(storms) == 1 and len(folded) == 52
    assert [p["group"]["user"] for p in plain] == [f"u{i}" for i in range(20)]
    storm = b.incident(storms[0]["id"])
    assert storm["storm"]["per_seconds"] == DAY and storm["storm"]["budget"] == 20
    assert "1d" in storm["title"] and storm["status"] == "firing"
    announced = [n for n in notes(out) if storms[0]["id"] in {i["id"] for i in n.incidents}]
    assert len([n for n in announced if not n.repeat]) == 1  # reminders aside, once
    assert not notified_ids(out) & {f["id"] for f in folded}


def test_the_daily_budget_can_be_turned_off():
    b = book(**one_receiver(), noise_budget={"per_day": None})
    out = []
    for i in range(48):
        out += b.on_hit(hit(T0 + i * HOUR, user=f"u{i}", resolve_after=600))
    assert not any(t.incident["group"] == STORM_GROUP for t in moves(out))


def test_budgets_per_rule_and_off():
    b = book(**one_receiver())
    out = []
    for i in range(30):
        out += b.on_hit(replace(hit(T0 + i, user=f"u{i}", rule="quiet"), noise_budget=3))
        out += b.on_hit(replace(hit(T0 + i, user=f"u{i}", rule="exempt"), noise_budget=0))
    opened = [t.incident for t in moves(out, "incident.opened")]
    quiet = [i for i in opened if i["rule_id"] == "quiet" and i["group"] != STORM_GROUP]
    exempt = [i for i in opened if i["rule_id"] == "exempt"]
    assert sum("folded_into" not in i for i in quiet) == 3
    assert len(exempt) == 30 and not any("folded_into" in i for i in exempt)


def test_a_flapping_problem_is_one_problem_not_a_storm():
    b = book(**one_receiver())
    out = []
    for step in range(61):
        out += b.on_hit(
            hit(T0 + 10 * step, source="detector", rule="latency", resolved=step % 2 == 1)
        )
    assert not any(t.incident["group"] == STORM_GROUP for t in moves(out))


def test_top_groups_are_bounded():
    b = book(**one_receiver(), noise_budget={"incidents": 1, "top_groups": 3})
    for i in range(MAX_GROUPS + 50):
        b.on_hit(hit(T0 + i * 0.01, user=f"u{i}"))
    [storm] = [i for i in b.open_incidents() if i["group"] == STORM_GROUP]
    assert storm["storm"]["folded"] == MAX_GROUPS + 49
    assert len(storm["storm"]["top_groups"]) == 3
    assert len(b._noise._storms["shell-pipe-to-shell"].groups) == MAX_GROUPS


events = st.lists(
    st.tuples(
        st.floats(0, 3 * HOUR),
        st.sampled_from(["a", "b"]),
        st.integers(0, 40),
        st.sampled_from(["low", "high", "critical"]),
        st.booleans(),
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(events=events, budget=st.integers(1, 6))
def test_no_rule_notifies_more_new_problems_than_its_budget(events, budget):
    b = book(**one_receiver(), noise_budget={"incidents": budget, "per": "1h"})
    out = []
    for t, rule, user, severity, resolved in sorted(events):
        h = hit(T0 + t, rule=rule, user=f"u{user}", severity=severity, resolve_after=900)
        out += b.on_hit(replace(h, resolved=resolved, source="detector"))
    out += b.advance(T0 + 5 * HOUR)
    opened = moves(out, "incident.opened")
    storms = {t.incident["id"]: t.incident for t in opened if t.incident["group"] == STORM_GROUP}
    seen: set[str] = set()
    routed: dict[str, list[float]] = {}
    for t in opened:
        inc = t.incident
        if inc["group"] == STORM_GROUP:
            continue
        if "folded_into" in inc:
            assert storms[inc["folded_into"]]["rule_id"] == inc["rule_id"]
        elif inc["fingerprint"] not in seen:  # a new problem, not one coming back
            routed.setdefault(inc["rule_id"], []).append(t.at)
        seen.add(inc["fingerprint"])
    for times in routed.values():
        for i, at in enumerate(times):
            assert sum(1 for x in times[: i + 1] if x > at - HOUR) <= budget
    folded_ids = {t.incident["id"] for t in opened if "folded_into" in t.incident}
    assert not notified_ids(out) & folded_ids


def burst_hit(t: float, user: str, team: str, severity: str = "high"):
    """A rule grouped by person (as `user-error-burst` is): the team is only in the event."""
    last_event = {"user": user, "team": team, "repo": f"{team}-api", "status": "error"}
    return hit(t, rule="user-error-burst", user=user, severity=severity,
               labels={"category": "reliability"}, evidence={"last_event": last_event})  # fmt: skip


TEAM_ROUTE = {
    "route": {
        "receiver": "page",
        "group_by": ["rule_id"],
        "group_wait": "30s",
        "routes": [{"matchers": ["team=checkout"], "receiver": "checkout", "group_wait": "0s"}],
    }
}


def test_a_teams_burst_folded_per_person_is_a_storm_of_that_team_routed_to_it():
    b = book(**TEAM_ROUTE)
    out = []
    for i in range(25):  # one team's people, one after the other
        out += b.on_hit(burst_hit(T0 + 20 * i, f"p{i}@corp.example", "checkout"))
    out += b.advance(T0 + 900)
    opened = [t.incident for t in moves(out, "incident.opened")]
    storms = [i for i in opened if i["group"].get("storm") == "over-budget"]
    assert len(storms) == 1
    storm = storms[0]
    # the rule is the storm's own; its group is the team and repository every incident shared
    assert storm["rule_id"] == "user-error-burst"
    assert storm["group"] == {"storm": "over-budget", "team": "checkout", "repo": "checkout-api"}
    to_team = {i["id"] for n in notes(out, "checkout") for i in n.incidents}
    assert storm["id"] in to_team
    assert not {i["id"] for n in notes(out, "page") for i in n.incidents} & {storm["id"]}


def test_a_storm_narrows_to_what_all_its_incidents_share():
    b = book(**TEAM_ROUTE)
    for i in range(12):
        b.on_hit(burst_hit(T0 + 20 * i, f"p{i}", "checkout"))
    storm = next(i for i in b.open_incidents() if "storm" in i["group"])
    assert storm["group"]["team"] == "checkout"
    b.on_hit(burst_hit(T0 + 400, "q", "ledger"))  # another team's person folds in
    storm = next(i for i in b.open_incidents() if "storm" in i["group"])
    assert storm["group"] == STORM_GROUP


def test_a_teams_critical_incident_inhibits_the_storm_of_that_team_not_anothers():
    inhibit = {"inhibit_rules": [{"source_matchers": ["severity=critical"],
                                  "target_matchers": ["storm=over-budget"],
                                  "equal": ["team"]}]}  # fmt: skip
    b = book(**TEAM_ROUTE, **inhibit)
    b.on_hit(hit(T0, rule="team-burst", group={"team": "checkout"}, labels={},
                 severity="critical", resolve_after=HOUR))  # fmt: skip
    for i in range(12):
        b.on_hit(burst_hit(T0 + 20 * i, f"p{i}", "checkout"))
        b.on_hit(burst_hit(T0 + 20 * i, f"r{i}", "ledger"))
    storm = next(i for i in b.open_incidents() if "storm" in i["group"])
    assert storm["group"] == STORM_GROUP  # both teams: the storm is no one team's
    assert not is_muted(b, storm["id"])
    b2 = book(**TEAM_ROUTE, **inhibit)
    b2.on_hit(hit(T0, rule="team-burst", group={"team": "checkout"}, labels={},
                  severity="critical", resolve_after=HOUR))  # fmt: skip
    for i in range(12):
        b2.on_hit(burst_hit(T0 + 20 * i, f"p{i}", "checkout"))
    storm = next(i for i in b2.open_incidents() if "storm" in i["group"])
    assert storm["group"]["team"] == "checkout" and is_muted(b2, storm["id"])
