"""A book restored from a snapshot runs on the configuration the engine was started with.

Its state (incidents, groups and what they announced, silences created by control events,
timers) is what it saved; its configuration (routes, inhibit rules, configured silences, noise
budget) is the one given to `reconfigure`, as a restarted engine gives it.
"""

from __future__ import annotations

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.incidents.book import IncidentBook
from engine.incidents.config import IncidentsConfig
from engine.incidents.model import Hit
from tests.engine.incidents.helpers import T0, book, control, hit, notes, one_receiver

TEAM, PERSON = "error-rate-per-team", "error-rate-per-user"


def restarted(saved: IncidentBook, **config: object) -> IncidentBook:
    """The book as a restarted engine has it: unpickled, then given its configuration."""
    restored: IncidentBook = pickle.loads(pickle.dumps(saved))
    restored.reconfigure(IncidentsConfig.model_validate(config))
    return restored


def team_burst(t: float) -> Hit:
    return Hit("detector", TEAM, "Error burst", "critical", t, {"team": "kiln"}, {}, {"n": 1})


def person(t: float, user: str) -> Hit:
    return Hit("detector", PERSON, "Error burst", "medium", t, {"user": user}, {"team": "kiln"},
               {"n": 1})  # fmt: skip


def told(out: list) -> list[str]:
    return sorted(i["rule_id"] for n in notes(out) for i in n.incidents)


def test_a_default_inhibit_rule_added_since_the_snapshot_folds_after_the_restart():
    saved = book(**one_receiver(), inhibit_rules=[])  # saved before the default existed
    saved.on_hit(team_burst(T0))
    saved.advance(T0 + 60)
    stale = pickle.loads(pickle.dumps(saved))
    assert told(stale.on_hit(person(T0 + 120, "ann")) + stale.advance(T0 + 600)) == [PERSON]
    fresh = restarted(saved, **one_receiver())  # today's defaults: the team folds its people
    out = fresh.on_hit(person(T0 + 120, "ann")) + fresh.advance(T0 + 600)
    assert told(out) == []
    assert fresh.open_incidents()[1]["inhibited_by"] == fresh.open_incidents()[0]["id"]


def test_configured_silences_follow_the_configuration_and_created_ones_stay():
    matcher = ['user="alice"']
    window = {"starts_at": "2026-11-25T09:00:00Z", "ends_at": "2026-11-26T09:00:00Z"}
    silence = {"id": "cfg", "matchers": matcher, **window, "created_by": "ops", "comment": "x"}
    saved = book(**one_receiver(), silences=[silence])
    control(saved, type="silence", at="2026-11-25T10:00:00Z", id="api", matchers=['user="bob"'],
            ends_at="2026-11-26T09:00:00Z", created_by="ops")  # fmt: skip
    fresh = restarted(saved, **one_receiver())
    assert [s["id"] for s in fresh.silences()] == ["api"]
    out = fresh.on_hit(hit(T0 + 60, user="alice")) + fresh.on_hit(hit(T0 + 60, user="bob"))
    out += fresh.advance(T0 + 600)
    assert [i["group"]["user"] for n in notes(out) for i in n.incidents] == ["alice"]


def test_open_incidents_take_the_new_routes_and_keep_their_ids_and_counts():
    saved = book(**one_receiver(), resolve_timeout=None)
    saved.on_hit(hit(T0))
    saved.on_hit(hit(T0 + 10))
    assert len(notes(saved.advance(T0 + 60), "page")) == 1
    pager = {"matchers": ['severity="high"'], "receiver": "pager", "group_wait": "10s"}
    fresh = restarted(saved, **one_receiver(routes=[pager]), resolve_timeout=None)
    out = fresh.advance(T0 + 3 * 3600)  # past repeat_interval: the old root group is gone
    [incident] = fresh.open_incidents()
    assert (incident["id"], incident["count"]) == (saved.open_incidents()[0]["id"], 2)
    assert {n.receiver for n in notes(out)} == {"pager"}  # the root route keeps quiet
    first = notes(out)[0]
    assert (first.repeat, first.incidents[0]["id"]) == (False, incident["id"])


hits = st.lists(
    st.tuples(st.integers(0, 7200), st.sampled_from(["alice", "bob"]), st.booleans()),
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(before=hits, after=hits)
def test_the_same_configuration_changes_nothing(before, after):
    config = one_receiver(routes=[{"matchers": ['user="bob"'], "receiver": "pager"}])
    saved = book(**config)
    for t, user, resolved in sorted(before):
        saved.on_hit(hit(T0 + t, user=user, resolved=resolved))
    as_saved: IncidentBook = pickle.loads(pickle.dumps(saved))
    fresh = restarted(saved, **config)
    for t, user, resolved in sorted(after):
        h = hit(T0 + 7200 + t, user=user, resolved=resolved)
        assert fresh.on_hit(h) == as_saved.on_hit(h)
    assert fresh.advance(T0 + 86400) == as_saved.advance(T0 + 86400)
