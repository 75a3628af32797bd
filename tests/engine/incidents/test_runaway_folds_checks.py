"""A runaway agent pages once: the assertion failures of the sessions it opens fold into the
runaway's incident (the default inhibit rule), while another person's failing checks still
page. The incident log keeps every incident; the folded ones name the runaway's."""

from __future__ import annotations

from engine.incidents.model import Hit
from tests.engine.incidents.helpers import T0, book, moves, notes, one_receiver

CHURN, CHECKS = "user-session-churn", "repeated-assertion-failures"


def runaway(t: float, user: str) -> Hit:
    return Hit("rule", CHURN, "Runaway agent opening sessions", "critical", t, {"user": user},
               {}, {"n": 1}, resolve_after=900)  # fmt: skip


def failing_checks(t: float, user: str, session: str) -> Hit:
    return Hit("rule", CHECKS, "Repeated assertion failures", "low", t,
               {"user": user, "session": session}, {}, {"n": 1}, resolve_after=1800)  # fmt: skip


def test_a_runaways_failing_sessions_fold_into_its_page():
    b = book(**one_receiver())
    hits = [runaway(T0 + 300 * k, "ann") for k in range(5)]  # the loop goes on
    hits += [failing_checks(T0 + 600 + 90 * i, "ann", f"s{i}") for i in range(4)]
    hits.append(failing_checks(T0 + 700, "bo", "s9"))  # someone else's tests
    out = []
    for h in sorted(hits, key=lambda h: h.time):
        out += b.on_hit(h)
    out += b.advance(T0 + 3 * 3600)
    opened = {t.incident["id"]: t.incident for t in moves(out, "incident.opened")}
    told = {i["id"] for n in notes(out) for i in n.incidents}
    assert {(opened[i]["rule_id"], opened[i]["group"]["user"]) for i in told} == {
        (CHURN, "ann"),
        (CHECKS, "bo"),
    }
    churn_id = next(i for i, inc in opened.items() if inc["rule_id"] == CHURN)
    resolved = [t.incident for t in moves(out, "incident.resolved")]
    folded = [i for i in resolved if i["rule_id"] == CHECKS and i["group"]["user"] == "ann"]
    assert len(folded) == 4
    assert all(i["inhibited_by"] == churn_id for i in folded)


def test_failing_checks_before_any_runaway_still_page():
    b = book(**one_receiver())
    out = b.on_hit(failing_checks(T0, "ann", "s1"))
    out += b.advance(T0 + 3600)
    out += b.on_hit(runaway(T0 + 3600, "ann"))
    out += b.advance(T0 + 3 * 3600)
    told = {i["rule_id"] for n in notes(out) for i in n.incidents}
    assert told == {CHURN, CHECKS}
