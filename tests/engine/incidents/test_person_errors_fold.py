"""One outage, one page: while a team's error burst pages, the error incidents of its people
fold into it (the default inhibit rule, `fold`), and a person failing alone still pages.
The incident log keeps every incident; the folded ones name their source (`inhibited_by`)."""

from __future__ import annotations

from engine.incidents.config import IncidentsConfig
from engine.incidents.model import Hit
from tests.engine.incidents.helpers import T0, book, moves, notes, one_receiver

TEAM, PERSON, RULE = "error-rate-per-team", "error-rate-per-user", "user-error-burst"


def team_burst(t: float, team: str = "kiln", resolved: bool = False) -> Hit:
    return Hit("detector", TEAM, "Error burst", "critical", t, {"team": team}, {}, {"n": 1},
               resolved=resolved)  # fmt: skip


def person(t: float, user: str, team: str = "kiln", resolved: bool = False) -> Hit:
    """A person's error incident as the detector raises it: its team is a label."""
    return Hit("detector", PERSON, "Error burst", "medium", t, {"user": user}, {"team": team},
               {"n": 1}, resolved=resolved)  # fmt: skip


def person_rule(t: float, user: str, team: str = "kiln") -> Hit:
    """The rule's person incident: its team is part of its group."""
    return Hit("rule", RULE, "Error burst", "high", t, {"user": user, "team": team}, {},
               {"n": 1}, resolve_after=1800)  # fmt: skip


def told(out: list) -> set[str]:
    return {i["id"] for n in notes(out) for i in n.incidents}


def opened(out: list) -> dict[str, str]:
    """incident id -> the person (or team) it is about."""
    return {
        t.incident["id"]: t.incident["group"].get("user", t.incident["group"].get("team", ""))
        for t in moves(out, "incident.opened")
    }


def test_the_people_of_a_paging_team_burst_fold_into_it_for_good():
    b = book(**one_receiver())
    out = b.on_hit(team_burst(T0))
    for i, user in enumerate(("ann", "bo", "cy")):
        out += b.on_hit(person(T0 + 120 + 60 * i, user))
    out += b.on_hit(person_rule(T0 + 200, "ann"))
    out += b.on_hit(team_burst(T0 + 1200, resolved=True))  # the team recovers first
    out += b.advance(T0 + 1500)
    for user in ("ann", "bo", "cy"):
        out += b.on_hit(person(T0 + 1500, user, resolved=True))
    out += b.advance(T0 + 4 * 3600)
    ids = opened(out)
    assert {ids[i] for i in told(out)} == {"kiln"}  # one page: the team's
    resolved = [t.incident for t in moves(out, "incident.resolved")]
    team_id = next(i for i, who in ids.items() if who == "kiln")
    folded = [i for i in resolved if i["rule_id"] != TEAM]
    assert len(folded) == 4
    assert all(i["inhibited_by"] == team_id for i in folded)


def test_a_person_opening_just_before_the_team_folds_too():
    b = book(**one_receiver())  # group_wait 30s: the team opens within it
    out = b.on_hit(person(T0, "ann"))
    out += b.on_hit(team_burst(T0 + 20))
    out += b.advance(T0 + 3600)
    ids = opened(out)
    assert {ids[i] for i in told(out)} == {"kiln"}


def test_a_person_failing_alone_or_in_another_team_still_pages():
    b = book(**one_receiver())
    out = b.on_hit(team_burst(T0))
    out += b.on_hit(person(T0 + 60, "dee", team="forge"))
    out += b.on_hit(person_rule(T0 + 60, "eli", team="forge"))
    out += b.advance(T0 + 3 * 3600)
    out += b.on_hit(person(T0 + 4 * 3600, "ann"))  # the team's burst is long over
    out += b.advance(T0 + 5 * 3600)
    ids = opened(out)
    assert sorted(ids[i] for i in told(out)) == ["ann", "dee", "eli", "kiln"]


def test_a_person_failing_alone_pages_once_the_detectors_burst_folding_into_the_rules():
    b = book(**one_receiver())
    out = b.on_hit(person_rule(T0, "ann", team="forge"))
    out += b.on_hit(person(T0 + 240, "ann", team="forge"))  # the detector, later
    out += b.on_hit(person(T0 + 260, "bo", team="forge"))  # the detector alone: pages
    out += b.advance(T0 + 3 * 3600)
    ids = opened(out)
    assert len(ids) == 3  # the incident log keeps every incident
    pages = sorted((ids[i], next(t.incident["rule_id"] for t in moves(out, "incident.opened")
                    if t.incident["id"] == i)) for i in told(out))  # fmt: skip
    assert pages == [("ann", RULE), ("bo", PERSON)]


def test_a_person_announced_before_the_team_burst_is_not_folded_into_it():
    """Their receivers know of them: muted while the team pages, told again after."""
    b = book(**one_receiver())
    out = b.on_hit(person(T0, "ann"))
    out += b.advance(T0 + 60)
    assert len(told(out)) == 1
    out += b.on_hit(team_burst(T0 + 120))
    out += b.on_hit(team_burst(T0 + 900, resolved=True))
    later = b.advance(T0 + 1800)
    person_notes = [n for n in notes(later) if n.incidents[0]["rule_id"] == PERSON]
    assert person_notes and "inhibited_by" not in person_notes[0].incidents[0]


def test_without_fold_a_target_pages_once_its_source_resolves_as_alertmanager_does():
    rule = {"source_matchers": [f"rule_id={TEAM}"], "target_matchers": [f"rule_id={PERSON}"],
            "equal": ["team"]}  # fmt: skip
    b = book(**one_receiver(), inhibit_rules=[rule])
    out = b.on_hit(team_burst(T0))
    out += b.on_hit(person(T0 + 60, "ann"))
    out += b.advance(T0 + 600)
    assert len(told(out)) == 1
    out += b.on_hit(team_burst(T0 + 600, resolved=True))
    out += b.advance(T0 + 1800)
    ids = opened(out)
    assert sorted(ids[i] for i in told(out)) == ["ann", "kiln"]


def test_the_default_inhibit_rules_fold_a_team_bursts_people_first():
    rule, _person, _runaway, *_provider = IncidentsConfig().inhibit_rules
    assert rule.fold and rule.equal == ["team"]
    assert IncidentsConfig.model_validate({"inhibit_rules": []}).inhibit_rules == []
