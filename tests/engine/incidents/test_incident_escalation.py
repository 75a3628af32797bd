import pickle

from engine.incidents.state import Escalation
from engine.timeutil import iso

from .helpers import T0, book, control, hit, moves, notes

DAY = 86400


def pager_config(repeat: int = 0, **route) -> dict:
    return {
        "route": {
            "receiver": "slack",
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "1d",
            "escalation": "pager",
            **route,
        },
        "escalation_policies": [
            {
                "name": "pager",
                "repeat": repeat,
                "levels": [
                    {"receivers": "oncall", "timeout": "5m"},
                    {"receivers": "lead", "timeout": "10m"},
                    {"receivers": "cto", "timeout": "15m"},
                ],
            }
        ],
    }


def pages(out) -> list[tuple[float, str, str, int]]:
    return [(n.at, n.receiver, n.transition, n.escalation_level) for n in notes(out)]


def test_an_unacknowledged_incident_climbs_the_levels_on_time_and_stops_at_the_top():
    b = book(**pager_config())
    out = b.on_hit(hit(T0, resolve_after=DAY))
    out += b.advance(T0 + 6 * 3600)
    assert pages(out) == [
        (iso(T0 + 30), "oncall", "incident.opened", 0),
        (iso(T0 + 30), "slack", "incident.opened", 0),
        (iso(T0 + 330), "lead", "incident.escalated", 1),
        (iso(T0 + 930), "cto", "incident.escalated", 2),
    ]
    escalated = moves(out, "incident.escalated")
    assert [(t.at - T0, t.incident["escalation_level"]) for t in escalated] == [(330, 1), (930, 2)]


def test_an_acknowledgement_stops_escalation_until_resolve():
    b = book(**pager_config())
    opened = moves(b.on_hit(hit(T0, resolve_after=DAY)))[0].incident
    b.advance(T0 + 100)
    out = control(b, type="ack", at=T0 + 100, incident=opened["id"], by="dana")
    out += b.advance(T0 + 6 * 3600)
    assert pages(out) == [
        (iso(T0 + 100), "oncall", "incident.acknowledged", 0),
        (iso(T0 + 100), "slack", "incident.acknowledged", 0),
    ]
    assert moves(out, "incident.escalated") == []


def test_an_acknowledgement_after_an_escalation_is_told_to_every_level_paged():
    b = book(**pager_config())
    opened = moves(b.on_hit(hit(T0, resolve_after=DAY)))[0].incident
    b.advance(T0 + 400)
    out = control(b, type="ack", at=T0 + 400, incident=opened["id"], by="dana")
    out += b.advance(T0 + 6 * 3600)
    assert sorted(n.receiver for n in notes(out)) == ["lead", "oncall", "slack"]
    assert {n.transition for n in notes(out)} == {"incident.acknowledged"}


def test_repeat_starts_the_policy_over_then_stops():
    b = book(**pager_config(repeat=1))
    out = b.on_hit(hit(T0, resolve_after=DAY))
    out += b.advance(T0 + 6 * 3600)
    escalations = [(p[0], p[1], p[3]) for p in pages(out) if p[2] == "incident.escalated"]
    assert escalations == [
        (iso(T0 + 330), "lead", 1),
        (iso(T0 + 930), "cto", 2),
        (iso(T0 + 1830), "oncall", 0),  # after the top level's 15 minutes, round two
        (iso(T0 + 2130), "lead", 1),
        (iso(T0 + 2730), "cto", 2),
    ]


def test_a_resolution_stops_escalation_and_is_told_to_everyone_paged():
    b = book(**pager_config())
    opened = moves(b.on_hit(hit(T0, resolve_after=DAY)))[0].incident
    b.advance(T0 + 400)
    out = control(b, type="resolve", at=T0 + 500, incident=opened["id"], by="dana")
    out += b.advance(T0 + 6 * 3600)
    assert pages(out) == [
        (iso(T0 + 630), "oncall", "incident.resolved", 1),
        (iso(T0 + 630), "slack", "incident.resolved", 1),
        (iso(T0 + 630), "lead", "incident.resolved", 1),
    ]


def test_incidents_announced_together_escalate_together_in_one_notification():
    b = book(**pager_config(group_by=["rule_id", "team"]), noise_budget={"incidents": 100})
    for i in range(50):
        b.on_hit(hit(T0 + i * 0.5, user=f"user{i:02d}", resolve_after=DAY))
    out = b.advance(T0 + 400)
    [lead] = notes(out, "lead")
    assert len(lead.incidents) == 50
    assert lead.at == iso(T0 + 330)
    assert len(moves(out, "incident.escalated")) == 50


def test_a_silenced_incident_is_held_and_gets_a_full_timeout_once_announced_again():
    b = book(**pager_config())
    b.on_hit(hit(T0, resolve_after=DAY))
    b.advance(T0 + 60)  # announced at +30, level 1 due at +330
    control(b, type="silence", at=T0 + 100, id="s", matchers=["team=payments"], ends_at=T0 + 500)
    out = b.advance(T0 + 2000)
    escalations = [(p[0], p[1]) for p in pages(out) if p[2] == "incident.escalated"]
    # muted when due at +330: held until the flush at +630 (after the silence ended at +500)
    # announces it again; from there the first level gets its full five minutes
    assert escalations == [(iso(T0 + 930), "lead"), (iso(T0 + 1530), "cto")]
    assert [n.at for n in notes(out, "oncall")] == [iso(T0 + 630)]


def test_an_incident_keeps_the_policy_it_was_first_announced_under():
    config = pager_config()
    config["escalation_policies"].append(
        {"name": "exec", "levels": [{"receivers": "ceo", "timeout": "1m"}, {"receivers": "board"}]}
    )
    config["route"]["routes"] = [
        {"matchers": ["severity=critical"], "escalation": "exec", "receiver": "war-room"}
    ]
    b = book(**config)
    b.on_hit(hit(T0, severity="high", resolve_after=DAY))
    b.advance(T0 + 60)  # announced under "pager"
    b.on_hit(hit(T0 + 61, severity="critical", resolve_after=DAY))
    out = b.advance(T0 + 3600)
    escalated = sorted({p[1] for p in pages(out) if p[2] == "incident.escalated"})
    assert escalated == ["cto", "lead"]
    assert {n.receiver for n in notes(out, "ceo")} == {"ceo"}  # the new route still announces


def test_without_an_escalation_policy_nothing_escalates():
    b = book(route={"receiver": "slack", "repeat_interval": "1d"})
    out = b.on_hit(hit(T0, resolve_after=DAY))
    out += b.advance(T0 + 6 * 3600)
    assert moves(out, "incident.escalated") == []
    assert [n.receiver for n in notes(out)] == ["slack"]


def test_an_escalation_carries_its_route_and_one_saved_without_it_resumes_the_same():
    """Escalation records once kept only their group's key; one restored from then takes the
    route from the key's front and escalates exactly as a record that kept it."""
    config = pager_config()
    config["route"]["routes"] = [
        {"matchers": ["severity=critical"], "receiver": "war-room"},
        {"matchers": ["team=core"], "receiver": "core-room", "group_by": ["user"]},
    ]
    b = book(**config)
    b.on_hit(hit(T0, severity="critical", resolve_after=DAY))
    b.on_hit(hit(T0 + 1, team="core", user="bob:ops", resolve_after=DAY))
    b.advance(T0 + 60)
    records = {i.escalation.route: i.escalation for i in b._incidents.values()}
    assert sorted(records) == ["root.0", "root.1"]
    assert all(e.group.startswith(route + ":") for route, e in records.items())
    old = pickle.loads(pickle.dumps(b))
    for incident in old._incidents.values():
        saved = {k: v for k, v in vars(incident.escalation).items() if k != "route"}
        record = Escalation.__new__(Escalation)
        record.__setstate__(saved)
        incident.escalation = record
    assert {i.escalation.route for i in old._incidents.values()} == set(records)
    later = T0 + 6 * 3600
    paged = pages(b.advance(later))
    assert pages(old.advance(later)) == paged
    assert [p[1] for p in paged if p[2] == "incident.escalated"] == ["lead"] * 2 + ["cto"] * 2
    assert moves(b.advance(later + 1)) == moves(old.advance(later + 1))
