"""Findings in the incident book: recorded and counted, never opened, routed or paged; one
digest per route and period, to the route's receivers (not its escalation)."""

from __future__ import annotations

import dataclasses
import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.incidents.book import IncidentBook
from engine.incidents.model import FindingRecord, Hit
from tests.engine.incidents.helpers import T0, book, hit, moves, notes, one_receiver

DAY = 86400.0
PR = "pr-without-passing-assertion"


def finding(t: float, user: str = "ann", session: str = "s1", team: str = "payments") -> Hit:
    h = hit(t, rule=PR, group={"user": user, "session": session}, labels={"team": team},
            severity="medium", resolve_after=DAY)  # fmt: skip
    return dataclasses.replace(h, produces="finding")


def lines(outputs: list, kind: str) -> list[FindingRecord]:
    return [o for o in outputs if isinstance(o, FindingRecord) and o.type == kind]


def feed(b: IncidentBook, hits: list[Hit], until: float) -> list:
    out: list = []
    for h in sorted(hits, key=lambda h: h.time):
        out += b.on_hit(h)
    return out + b.advance(until)


def test_a_finding_is_logged_counted_and_digested_never_paged():
    b = book(**one_receiver())
    hits = [finding(T0 + 600 * i, user=f"u{i % 3}", session=f"s{i}") for i in range(12)]
    out = feed(b, hits, T0 + 2 * DAY)
    assert moves(out) == []  # no incident at all
    assert b.open_incidents() == []
    recorded = lines(out, "finding.recorded")
    assert len(recorded) == 12
    assert {r.data["rule_id"] for r in recorded} == {PR}
    digests = lines(out, "finding.digest")
    assert len(digests) == 1  # the hits all fall on one day: one digest, at its end
    digest = digests[0].data
    assert digests[0].at == (T0 // DAY + 1) * DAY
    assert digest["findings"] == 12 and digest["rules"] == {PR: 12}
    assert digest["top_users"] == [{"name": f"u{i}", "findings": 4} for i in range(3)]
    assert digest["top_teams"] == [{"name": "payments", "findings": 12}]
    assert len(digest["examples"]) == 3
    sent = notes(out)
    assert [(n.receiver, n.transition) for n in sent] == [("page", "finding.digest")]
    assert "12 findings" in sent[0].incidents[0]["title"]


def test_hits_of_one_problem_within_its_window_count_into_one_finding():
    b = book(**one_receiver())
    out = feed(b, [finding(T0 + 60 * i) for i in range(5)], T0 + 3 * DAY)
    assert len(lines(out, "finding.recorded")) == 1
    (digest,) = lines(out, "finding.digest")
    assert (digest.data["findings"], digest.data["hits"]) == (1, 5)


def test_each_period_has_its_digest_and_a_period_without_findings_none():
    b = book(**one_receiver())
    days = [0, 1, 3]  # nothing on the third day
    hits = [finding(T0 + d * DAY, session=f"d{d}") for d in days]
    out = feed(b, hits, T0 + 6 * DAY)
    digests = lines(out, "finding.digest")
    assert [d.at for d in digests] == [(T0 // DAY + 1 + d) * DAY for d in days]
    assert [d.data["findings"] for d in digests] == [1, 1, 1]
    assert len(notes(out)) == 3


def test_a_digest_goes_to_the_routes_the_findings_reach_and_never_escalates():
    config = one_receiver(escalation="oncall")
    config["route"]["routes"] = [
        {"matchers": [f'rule_id="{PR}"'], "receiver": "quality", "group_by": ["rule_id"]}
    ]
    config["escalation_policies"] = [
        {"name": "oncall", "levels": [{"receivers": ["pager"], "timeout": "5m"}]}
    ]
    b = book(**config)
    out = feed(b, [finding(T0), finding(T0 + 60, user="bo")], T0 + DAY)
    assert [(n.receiver, n.transition) for n in notes(out)] == [("quality", "finding.digest")]
    (digest,) = lines(out, "finding.digest")
    assert digest.data["route"] == "root.0" and digest.data["findings"] == 2


def test_incidents_and_findings_side_by_side():
    b = book(**one_receiver())
    out = feed(b, [finding(T0), hit(T0 + 5)], T0 + DAY)
    assert [t.incident["rule_id"] for t in moves(out, "incident.opened")] == ["shell-pipe-to-shell"]
    assert len(lines(out, "finding.recorded")) == 1
    kinds = sorted(n.transition for n in notes(out))
    assert kinds == ["finding.digest", "incident.opened", "incident.resolved"]


def test_the_book_with_findings_pending_pickles_and_resumes():
    b = book(**one_receiver())
    b.on_hit(finding(T0))
    restored = pickle.loads(pickle.dumps(b))
    out = restored.on_hit(finding(T0 + 60, user="bo")) + restored.advance(T0 + DAY)
    (digest,) = lines(out, "finding.digest")
    assert digest.data["findings"] == 2


def test_a_book_saved_before_findings_existed_records_them():
    b = book(**one_receiver())
    state = b.__dict__.copy()
    del state["_findings"]
    old = IncidentBook.__new__(IncidentBook)
    old.__setstate__(state)
    out = old.on_hit(finding(T0)) + old.advance(T0 + DAY)
    assert len(lines(out, "finding.digest")) == 1


@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.floats(0, 5 * DAY), min_size=1, max_size=30),
    sessions=st.integers(1, 6),
    interval=st.sampled_from([3600.0, 6 * 3600.0, DAY]),
)
def test_every_hit_is_counted_in_exactly_one_digest(offsets, sessions, interval):
    """Whatever the times, sessions and period: each digest covers one period, no hit is lost
    or counted twice, and no finding opens an incident."""
    b = book(**one_receiver(), findings={"digest_interval": interval})
    hits = [finding(T0 + t, session=f"s{i % sessions}") for i, t in enumerate(offsets)]
    out = feed(b, hits, T0 + 7 * DAY)
    digests = lines(out, "finding.digest")
    assert sum(d.data["hits"] for d in digests) == len(hits)
    assert sum(d.data["findings"] for d in digests) == len(lines(out, "finding.recorded"))
    assert all(d.at % interval == 0 for d in digests)
    assert len({d.at for d in digests}) == len(digests)
    assert moves(out) == []


def test_a_problem_back_after_its_window_is_a_new_finding_with_its_own_id():
    b = book(**one_receiver())
    out = feed(b, [finding(T0), finding(T0 + 3 * DAY)], T0 + 5 * DAY)
    ids = [r.data["id"] for r in lines(out, "finding.recorded")]
    assert len(ids) == 2 and len(set(ids)) == 2
    assert len({r.id for r in lines(out, "finding.recorded")}) == 2
