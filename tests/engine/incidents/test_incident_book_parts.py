"""The book's parts on their own: timers, the dedup decision, muting, books saved before the
split, and the book as no more than the facade over them."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from engine.flow.state_pickle import load_state
from engine.incidents.book import IncidentBook
from engine.incidents.config import IncidentsConfig
from engine.incidents.grouping import Members, needs_notify
from engine.incidents.model import Hit, Transition
from engine.incidents.muting import Muting
from engine.incidents.route_tree import build_routes
from engine.incidents.state import Group, Incident
from engine.incidents.timers import ESCALATE, FLUSH, FORGET, RESOLVE, Timers
from engine.timeutil import parse_time

DATA = Path(__file__).parent / "data"
SEVERITIES = ["info", "low", "medium", "high", "critical"]


def test_a_book_pickled_before_the_split_resumes_exactly_where_it_stopped():
    # Saved by the version that kept routes, silences and timers on the book itself: two
    # escalating incidents, a silence and groups already flushed; its routing tree was then
    # in `engine.incidents.routing`. Read as a snapshot is on restart.
    book = load_state((DATA / "book_with_flat_state.pickle").read_bytes())
    expected = json.loads((DATA / "book_with_flat_state.expected.json").read_text())
    t0 = expected["t0"]

    def said(outputs: list) -> list[list[str]]:
        return [
            [o.type, o.id] if isinstance(o, Transition) else [o.receiver, o.key] for o in outputs
        ]

    hit = Hit("rule", "r2", "t", "critical", t0 + 3700, {"user": "alice"}, {"team": "core"}, {})
    out = said(book.advance(t0 + 3600)) + said(book.on_hit(hit)) + said(book.advance(t0 + 9000))
    assert out == expected["outputs"]
    assert any(kind == "incident.escalated" for kind, _ in out)


def _incident(n: int, severity: str) -> Incident:
    return Incident(f"i{n}", f"fp{n}", "rule", "r", "t", severity, {}, {}, 0.0, 0.0, None, None)


@st.composite
def flushes(draw):
    told = draw(st.dictionaries(st.integers(0, 5), st.sampled_from(SEVERITIES), max_size=6))
    firing = draw(st.dictionaries(st.integers(0, 5), st.sampled_from(SEVERITIES), max_size=6))
    resolved = draw(st.lists(st.sampled_from(sorted(told)), unique=True)) if told else []
    resolved = [n for n in resolved if n not in firing]
    last = draw(st.none() | st.floats(0, 100))
    group = Group("root:{}", "root", {}, 0.0, notified={f"fp{n}": s for n, s in told.items()})
    group.last_notified_at = last
    members = Members(
        firing=[_incident(n, s) for n, s in sorted(firing.items())],
        resolved=[_incident(n, "high") for n in resolved],
    )
    return group, members, draw(st.floats(0, 300))


@given(flushes())
def test_a_flush_notifies_exactly_when_receivers_would_learn_something(case):
    group, members, at = case
    decision = needs_notify(group, members, at, repeat_interval=60.0)
    rank = SEVERITIES.index
    told = group.notified
    new = any(i.fingerprint not in told for i in members.firing)
    graver = any(
        i.fingerprint in told and rank(i.severity) > rank(told[i.fingerprint])
        for i in members.firing
    )
    last = group.last_notified_at
    repeat = bool(members.firing) and last is not None and at >= last + 60.0
    if not (new or graver or members.resolved or repeat):
        assert decision is None
        return
    assert decision is not None
    assert decision.repeat == (not (new or graver or members.resolved))
    if new:
        assert decision.transition == "incident.opened"
    elif members.resolved and not graver:
        assert decision.transition == "incident.resolved"
    else:
        assert decision.transition == "incident.updated"


@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from("abc"), st.integers(0, 5))))
def test_timers_fire_once_each_in_due_kind_key_order_and_rearming_supersedes(arms):
    timers = Timers()
    live: dict[tuple[int, str], int] = {}
    for kind, key, due in arms:
        timers.schedule(kind, key, float(due))
        live[(kind, key)] = due
    fired = []
    while (due := timers.pop_due(10.0)) is not None:
        fired.append((due.at, due.kind, due.key))
    assert fired == sorted((float(d), k, key) for (k, key), d in live.items())
    assert timers.pop_due(10.0) is None


def test_timers_due_together_are_batched_by_kind_only():
    timers = Timers()
    timers.schedule(ESCALATE, "x", 10.0)
    timers.schedule(ESCALATE, "y", 10.0)
    timers.schedule(ESCALATE, "y", 30.0)  # re-armed: its entry at 10 is stale
    timers.schedule(FORGET, "z", 10.0)
    timers.schedule(FLUSH, "g", 10.0)
    timers.schedule(RESOLVE, "r", 11.0)
    assert timers.pop_due(10.0) == (10.0, FLUSH, "g")
    first = timers.pop_due(10.0)
    assert first == (10.0, ESCALATE, "x")
    assert timers.pop_same(first) == ["x"]
    assert timers.pop_due(10.0) == (10.0, FORGET, "z")
    assert timers.pop_due(10.0) is None


def test_one_mutes_question_covers_silences_inhibitions_and_the_routes_time_intervals():
    # Berlin's weekend starts at Friday 23:00 UTC in November; a silence on one team only.
    config = IncidentsConfig.model_validate(
        {
            "route": {
                "receiver": "page",
                "routes": [{"matchers": ['team=~".+"'], "mute_time_intervals": ["weekends"]}],
            },
            "time_intervals": [
                {
                    "name": "weekends",
                    "time_intervals": [
                        {"weekdays": ["saturday:sunday"], "location": "Europe/Berlin"}
                    ],
                }
            ],
            "silences": [
                {
                    "id": "payments-freeze",
                    "matchers": ['team="payments"'],
                    "starts_at": "2026-11-27T00:00:00Z",
                    "ends_at": "2026-11-27T12:00:00Z",
                }
            ],
        }
    )
    muting = Muting(config, {})
    route = build_routes(config).children[0].options
    friday_late, friday_noon = parse_time("2026-11-27T23:30:00Z"), parse_time("2026-11-27T11:00Z")
    payments, search = {"team": "payments"}, {"team": "search"}
    assert muting.mutes(search, friday_late, route)  # the route's weekend, in Berlin
    assert not muting.mutes(search, friday_late)  # no route asked about: labels only
    assert muting.mutes(payments, friday_noon, route) and muting.mutes(payments, friday_noon)
    assert not muting.mutes(search, friday_noon, route)
    assert not muting.mutes(payments, parse_time("2026-11-27T12:00:00Z"), route)


def test_the_book_is_a_thin_facade_over_its_parts():
    # Every input is handed to the part whose job it is: no method of the book does more.
    tree = ast.parse(inspect.getsource(IncidentBook))
    methods = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    long = {m.name: m.end_lineno - m.lineno + 1 for m in methods if m.end_lineno - m.lineno > 24}
    assert long == {}
    assert len(methods) <= 15
