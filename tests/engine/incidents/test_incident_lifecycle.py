import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.incidents.book import IncidentBook
from engine.incidents.control import ControlError, parse_control
from engine.incidents.model import fingerprint
from engine.timeutil import iso

from .helpers import T0, book, control, hit, moves, notes, reports

INCIDENT_FIELDS = {
    "id", "fingerprint", "source", "rule_id", "title", "severity", "status", "group",
    "first_seen", "last_seen", "count", "escalation_level", "labels", "evidence",
}  # fmt: skip


def test_a_first_hit_opens_an_incident_logged_as_in_the_design():
    b = IncidentBook()
    [line] = [t.to_log() for t in moves(b.on_hit(hit(T0)))]
    assert line["type"] == "incident.opened"
    assert line["at"] == iso(T0)
    incident = line["incident"]
    assert set(incident) == INCIDENT_FIELDS
    assert incident["fingerprint"] == fingerprint("shell-pipe-to-shell", {"user": "alice"})
    assert incident["status"] == "firing"
    assert incident["count"] == 1
    assert incident["group"] == {"user": "alice"}
    assert incident["first_seen"] == incident["last_seen"] == iso(T0)
    json.dumps(line)  # a log line is plain JSON


def test_repeated_hits_count_on_one_incident_and_never_open_a_second():
    b = IncidentBook()
    out = []
    for i in range(10):
        out += b.on_hit(hit(T0 + i))
    assert len(moves(out, "incident.opened")) == 1
    [incident] = b.open_incidents()
    assert incident["count"] == 10
    assert incident["last_seen"] == iso(T0 + 9)


def test_count_updates_are_logged_at_most_once_per_update_interval():
    b = book(update_interval="5m")
    out = []
    for minute in range(21):
        out += b.on_hit(hit(T0 + 60 * minute))
    updated = moves(out, "incident.updated")
    assert [t.at - T0 for t in updated] == [300, 600, 900, 1200]
    assert [t.incident["count"] for t in updated] == [6, 11, 16, 21]


def test_a_graver_hit_is_logged_at_once_and_severity_never_drops():
    b = IncidentBook()
    b.on_hit(hit(T0, severity="medium"))
    [update] = moves(b.on_hit(hit(T0 + 1, severity="critical")))
    assert update.type == "incident.updated"
    assert update.incident["severity"] == "critical"
    assert moves(b.on_hit(hit(T0 + 2, severity="low"))) == []
    assert b.open_incidents()[0]["severity"] == "critical"


def test_resolve_after_resolves_at_its_due_time_and_a_return_reopens_a_new_incident():
    b = IncidentBook()
    first = moves(b.on_hit(hit(T0, resolve_after=600)))[0].incident["id"]
    b.on_hit(hit(T0 + 100, resolve_after=600))
    assert moves(b.advance(T0 + 699)) == []
    [resolved] = moves(b.advance(T0 + 5000))  # the clock jumps far past the due time
    assert resolved.type == "incident.resolved"
    assert resolved.at == T0 + 700
    assert resolved.incident["resolution"] == {
        "at": iso(T0 + 700),
        "by": "auto",
        "comment": "resolve_after elapsed",
    }
    [reopened] = moves(b.on_hit(hit(T0 + 6000, resolve_after=600)))
    assert reopened.type == "incident.opened"
    assert reopened.incident["id"] != first
    assert reopened.incident["fingerprint"] == resolved.incident["fingerprint"]
    assert reopened.incident["first_seen"] == iso(T0 + 6000)
    assert reopened.incident["count"] == 1


def test_hits_without_resolve_after_fall_back_to_the_resolve_timeout():
    b = book(resolve_timeout="10m")
    b.on_hit(hit(T0))
    assert [t.at - T0 for t in moves(b.advance(T0 + 3600))] == [600]


def test_a_detector_ends_its_incident_explicitly():
    b = IncidentBook()
    b.on_hit(hit(T0, source="detector", rule="latency-ewma"))
    [resolved] = moves(
        b.on_hit(hit(T0 + 60, source="detector", rule="latency-ewma", resolved=True))
    )
    assert resolved.incident["resolution"]["by"] == "detector"
    assert b.open_incidents() == []


def test_an_end_for_an_incident_that_is_not_open_changes_nothing():
    b = IncidentBook()
    assert b.on_hit(hit(T0, source="detector", resolved=True)) == []
    assert b.open_incidents() == []


def test_evidence_is_a_bounded_sample_of_the_first_and_the_latest_hits():
    b = book(evidence_samples=3)
    for i in range(10):
        b.on_hit(hit(T0 + i, evidence={"i": i}))
    evidence = b.open_incidents()[0]["evidence"]
    assert [s["data"]["i"] for s in evidence["samples"]] == [0, 1, 9]
    assert evidence["omitted"] == 7


def test_ack_or_resolve_of_an_unknown_incident_changes_nothing_and_is_reported():
    b = IncidentBook()
    b.on_hit(hit(T0))
    before = b.open_incidents()
    for kind in ("ack", "resolve"):
        out = control(b, type=kind, at=T0 + 1, incident="no-such-incident", by="dana")
        [report] = out
        assert (report.kind, report.outcome, report.target) == (
            kind,
            "not_found",
            "no-such-incident",
        )
    assert b.open_incidents() == before


def test_an_incident_is_found_by_id_or_by_fingerprint():
    b = IncidentBook()
    opened = moves(b.on_hit(hit(T0)))[0].incident
    out = control(b, type="ack", at=T0 + 5, incident=opened["fingerprint"], by="dana")
    assert moves(out)[0].incident["acknowledged"] == {"at": iso(T0 + 5), "by": "dana"}
    [again] = reports(control(b, type="ack", at=T0 + 6, incident=opened["id"], by="eve"))
    assert again.outcome == "unchanged"
    out = control(b, type="resolve", at=T0 + 7, incident=opened["id"], by="dana", comment="fixed")
    assert moves(out)[0].incident["resolution"]["comment"] == "fixed"
    [late_ack] = reports(control(b, type="ack", at=T0 + 8, incident=opened["id"]))
    assert late_ack.outcome == "refused"
    [late_resolve] = reports(control(b, type="resolve", at=T0 + 9, incident=opened["id"]))
    assert late_resolve.outcome == "unchanged"


def test_a_resolved_incident_is_forgotten_after_its_retention():
    b = book(resolved_retention="1h")
    opened = moves(b.on_hit(hit(T0)))[0].incident
    control(b, type="resolve", at=T0 + 10, incident=opened["id"])
    assert b.incident(opened["id"])["status"] == "resolved"
    b.advance(T0 + 10 + 3600)
    assert b.incident(opened["id"]) is None


def test_an_acknowledged_incident_keeps_counting_until_it_resolves():
    b = IncidentBook()
    opened = moves(b.on_hit(hit(T0)))[0].incident
    control(b, type="ack", at=T0 + 1, incident=opened["id"])
    assert moves(b.on_hit(hit(T0 + 2)), "incident.opened") == []
    incident = b.incident(opened["id"])
    assert (incident["status"], incident["count"]) == ("acknowledged", 2)


def test_a_clock_that_goes_backwards_never_refires_a_timer():
    b = IncidentBook()
    b.on_hit(hit(T0, resolve_after=600))
    first = b.advance(T0 + 700)
    assert len(moves(first, "incident.resolved")) == 1
    sent = [(n.transition, n.at) for n in notes(first, "console")]
    assert sent == [("incident.opened", iso(T0 + 30)), ("incident.resolved", iso(T0 + 630))]
    assert b.advance(T0 + 100) == []
    assert b.advance(T0 + 700) == []
    assert b.now == T0 + 700


def test_bad_control_dicts_are_an_error_that_says_where_and_change_nothing():
    b = IncidentBook()
    with pytest.raises(ControlError) as error:
        parse_control(
            {"type": "silence", "at": T0, "matchers": ["user=~(a"], "ends_at": T0 + 60},
            where="control.jsonl:3",
        )
    assert str(error.value).startswith("control.jsonl:3: silence refused: matchers[0]")
    assert b.silences() == []


def test_a_silence_that_already_ended_is_refused_and_expiry_is_reported():
    b = IncidentBook()
    b.advance(T0)
    [ended] = control(b, type="silence", at=T0, matchers=["team=a"], starts_at=T0 - 60, ends_at=T0)
    assert ended.outcome == "refused"
    [missing] = control(b, type="expire_silence", at=T0, id="nope")
    assert missing.outcome == "not_found"
    [created] = control(b, type="silence", at=T0, id="s1", matchers=["team=a"], ends_at=T0 + 60)
    assert created.outcome == "applied"
    [expired] = control(b, type="expire_silence", at=T0 + 10, id="s1")
    assert expired.outcome == "applied"
    assert b.silences()[0]["state"] == "expired"
    assert b.silences()[0]["ends_at"] == iso(T0 + 10)


def stream(b: IncidentBook) -> list[str]:
    lines = []
    for i in range(40):
        lines += [
            _render(o) for o in b.on_hit(hit(T0 + 37 * i, user=f"u{i % 7}", resolve_after=200))
        ]
        if i == 20:
            lines += [
                _render(o) for o in control(b, type="ack", at=T0 + 37 * i, incident=_fp("u6"))
            ]
    lines += [_render(o) for o in b.advance(T0 + 10_000)]
    return lines


def _fp(user: str) -> str:
    return fingerprint("shell-pipe-to-shell", {"user": user})


def _render(output) -> str:
    data = output.to_log() if hasattr(output, "to_log") else output.to_dict()
    return json.dumps(data, sort_keys=True)


def test_the_same_stream_gives_byte_identical_output():
    assert stream(IncidentBook()) == stream(IncidentBook())


def test_a_book_restored_from_a_pickle_continues_exactly_as_the_original():
    original, copy = IncidentBook(), None
    lines_a, lines_b = [], []
    for i in range(30):
        h = hit(T0 + 41 * i, user=f"u{i % 5}", resolve_after=150)
        lines_a += [_render(o) for o in original.on_hit(h)]
        if i == 12:
            copy = pickle.loads(pickle.dumps(original))
            lines_b = list(lines_a)
        elif copy is not None:
            lines_b += [_render(o) for o in copy.on_hit(h)]
    lines_a += [_render(o) for o in original.advance(T0 + 9000)]
    lines_b += [_render(o) for o in copy.advance(T0 + 9000)]
    assert lines_a == lines_b
    assert any('"incident.resolved"' in line for line in lines_a)


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=400),  # seconds since the previous hit
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from(["low", "high", "critical"]),
            st.booleans(),  # whether the engine ticks the clock before this hit
            st.floats(min_value=0, max_value=1),  # where between the two hits it ticks
        ),
        min_size=1,
        max_size=30,
    )
)
def test_extra_clock_ticks_between_time_ordered_hits_change_nothing(steps):
    config = {
        "route": {"receiver": "chat", "group_wait": "30s", "group_interval": "2m"},
        "escalation_policies": [{"name": "p", "levels": [{"receivers": "x", "timeout": "3m"}]}],
    }
    config["route"]["escalation"] = "p"
    plain, ticked = book(**config), book(**config)
    lines_plain, lines_ticked = [], []
    t = T0
    for gap, user, severity, tick, where in steps:
        if tick:
            lines_ticked += [_render(o) for o in ticked.advance(t + gap * where)]
        t += gap
        h = hit(t, user=user, severity=severity, resolve_after=300)
        lines_plain += [_render(o) for o in plain.on_hit(h)]
        lines_ticked += [_render(o) for o in ticked.on_hit(h)]
    lines_plain += [_render(o) for o in plain.advance(t + 3600)]
    lines_ticked += [_render(o) for o in ticked.advance(t + 3600)]
    assert lines_plain == lines_ticked
