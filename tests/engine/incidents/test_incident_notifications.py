from engine.timeutil import iso, parse_time

from .helpers import T0, book, control, hit, is_muted, moves, notes, one_receiver


def ids(notification) -> list[str]:
    return sorted(i["group"]["user"] for i in notification.incidents)


def test_a_burst_across_fifty_users_of_one_team_is_one_notification_listing_them():
    # without a noise budget (with one, a burst this size is a storm: test_noise_budget)
    b = book(**one_receiver(group_by=["rule_id", "team"]), noise_budget={"enabled": False})
    out = []
    for i in range(50):
        out += b.on_hit(hit(T0 + i * 0.2, user=f"user{i:02d}", resolve_after=3600))
    out += b.advance(T0 + 60)
    [sent] = notes(out)
    assert sent.receiver == "page"
    assert sent.transition == "incident.opened"
    assert sent.at == iso(T0 + 30)
    assert sent.group_labels == {"rule_id": "shell-pipe-to-shell", "team": "payments"}
    assert ids(sent) == [f"user{i:02d}" for i in range(50)]
    assert len(moves(out, "incident.opened")) == 50


def test_more_hits_for_announced_incidents_do_not_renotify_but_a_new_one_does():
    b = book(**one_receiver())
    b.on_hit(hit(T0, user="a", resolve_after=3600))
    assert len(notes(b.advance(T0 + 30))) == 1
    out = b.on_hit(hit(T0 + 100, user="a", resolve_after=3600))
    out += b.advance(T0 + 329)
    out += b.on_hit(hit(T0 + 200, user="b", resolve_after=3600))  # late, still counted
    out += b.advance(T0 + 330)
    [sent] = notes(out)
    assert sent.at == iso(T0 + 330)  # group_interval after the first flush
    assert ids(sent) == ["a", "b"]


def test_what_still_fires_is_renotified_after_repeat_interval():
    b = book(**one_receiver(repeat_interval="1h"))
    out = []
    for minute in range(0, 130, 10):
        out += b.on_hit(hit(T0 + 60 * minute, resolve_after=3600))
    sent = notes(out + b.advance(T0 + 130 * 60))
    assert [(n.at, n.repeat) for n in sent] == [
        (iso(T0 + 30), False),
        (iso(T0 + 30 + 3600), True),  # the first flush at least an hour after the last
        (iso(T0 + 30 + 7200), True),
    ]
    assert all(n.transition == "incident.updated" for n in sent[1:])


def test_a_resolution_is_notified_at_the_next_flush_when_send_resolved():
    b = book(**one_receiver())
    b.on_hit(hit(T0, resolve_after=60))
    out = b.advance(T0 + 1000)
    sent = [(n.transition, n.status, n.at) for n in notes(out)]
    assert sent == [
        ("incident.opened", "firing", iso(T0 + 30)),
        ("incident.resolved", "resolved", iso(T0 + 330)),
    ]
    assert notes(out)[1].incidents[0]["status"] == "resolved"


def test_no_resolution_is_sent_without_send_resolved():
    b = book(**one_receiver(send_resolved=False))
    b.on_hit(hit(T0, resolve_after=60))
    assert [n.transition for n in notes(b.advance(T0 + 1000))] == ["incident.opened"]


def test_an_incident_that_ends_within_group_wait_is_never_notified():
    b = book(**one_receiver())
    b.on_hit(hit(T0, resolve_after=10))
    out = b.advance(T0 + 3600)
    assert notes(out) == []
    assert [t.type for t in moves(out)] == ["incident.resolved"]


def test_a_silenced_incident_is_never_notified_but_still_logged():
    b = book(**one_receiver(group_by=["rule_id"]))
    control(b, type="silence", at=T0 - 1, id="s", matchers=["user=alice"], ends_at=T0 + 86400)
    out = b.on_hit(hit(T0, user="alice", resolve_after=600))
    out += b.on_hit(hit(T0 + 1, user="bob", resolve_after=600))
    out += b.advance(T0 + 3600)
    assert len(moves(out, "incident.opened")) == 2
    assert all(ids(n) == ["bob"] for n in notes(out))
    assert b.silences()[0]["state"] == "active"


def test_a_silence_that_expires_lets_the_still_firing_incident_through():
    b = book(**one_receiver())
    control(b, type="silence", at=T0, id="s", matchers=["team=payments"], ends_at=T0 + 600)
    out = []
    for minute in range(0, 20):
        out += b.on_hit(hit(T0 + 60 * minute, resolve_after=3600))
    out += b.advance(T0 + 1200)
    [sent] = notes(out)
    assert sent.at == iso(T0 + 630)  # the first flush after the silence ended at +600
    assert sent.transition == "incident.opened"


def test_expiring_a_silence_early_resumes_notification_at_the_next_flush():
    b = book(**one_receiver())
    control(b, type="silence", at=T0, id="s", matchers=["team=payments"], ends_at=T0 + 86400)
    b.on_hit(hit(T0, resolve_after=3600))
    assert notes(b.advance(T0 + 400)) == []
    control(b, type="expire_silence", at=T0 + 400, id="s")
    assert [n.at for n in notes(b.advance(T0 + 700))] == [iso(T0 + 630)]


def test_a_silence_from_the_configuration_mutes_like_one_from_the_control_stream():
    b = book(
        **one_receiver(),
        silences=[
            {"id": "mw", "matchers": ["rule_id=~shell-.*"], "starts_at": T0, "ends_at": T0 + 3600}
        ],
    )
    b.on_hit(hit(T0 + 10, resolve_after=7200))
    assert [n.at for n in notes(b.advance(T0 + 4000))] == [iso(T0 + 3640)]


INHIBIT = {
    "inhibit_rules": [
        {
            "source_matchers": ["severity=critical"],
            "target_matchers": ["severity=~low|medium|high"],
            "equal": ["team"],
        }
    ]
}


def test_a_critical_incident_for_a_team_inhibits_the_lesser_ones_of_that_team_only():
    b = book(**one_receiver(group_by=["..."]), **INHIBIT)
    out = b.on_hit(hit(T0, rule="exfil", severity="critical", user="mallory", resolve_after=600))
    out += b.on_hit(hit(T0 + 1, rule="cost", severity="high", user="alice", resolve_after=3600))
    out += b.on_hit(
        hit(T0 + 2, rule="cost", severity="high", user="sam", team="search", resolve_after=3600)
    )
    out += b.advance(T0 + 100)
    assert sorted(n.incidents[0]["rule_id"] + "/" + ids(n)[0] for n in notes(out)) == [
        "cost/sam",
        "exfil/mallory",
    ]
    assert is_muted(b, moves(out, "incident.opened")[1].incident["id"])


def test_an_inhibited_incident_is_notified_once_its_source_resolves():
    b = book(**one_receiver(group_by=["..."]), **INHIBIT)
    b.on_hit(hit(T0, rule="exfil", severity="critical", user="mallory", resolve_after=600))
    b.on_hit(hit(T0 + 1, rule="cost", severity="high", user="alice", resolve_after=7200))
    out = b.advance(T0 + 1000)
    alice = [n for n in notes(out) if ids(n) == ["alice"]]
    assert [n.at for n in alice] == [iso(T0 + 631)]  # first flush after mallory's resolve at 600


def test_an_incident_matching_both_sides_does_not_inhibit_its_peer():
    b = book(
        **one_receiver(group_by=["..."]),
        inhibit_rules=[
            {"source_matchers": ["team=payments"], "target_matchers": ["team=payments"]}
        ],
    )
    b.on_hit(hit(T0, user="a", resolve_after=600))
    b.on_hit(hit(T0, user="b", resolve_after=600))
    assert len(notes(b.advance(T0 + 60))) == 2


TIME = {
    "time_intervals": [
        {"name": "weekends", "time_intervals": [{"weekdays": ["saturday:sunday"]}]},
        {
            "name": "office-hours",
            "time_intervals": [
                {
                    "weekdays": ["monday:friday"],
                    "times": [{"start_time": "09:00", "end_time": "17:00"}],
                }
            ],
        },
    ]
}


def test_a_route_muted_on_weekends_holds_the_notification_until_monday():
    saturday = parse_time("2026-11-28T12:00:00Z")
    b = book(
        route={
            "receiver": "log",
            "group_interval": "1h",
            "repeat_interval": "7d",
            "routes": [
                {
                    "matchers": ["team=payments"],
                    "receiver": "page",
                    "mute_time_intervals": ["weekends"],
                }
            ],
        },
        **TIME,
    )
    out = b.on_hit(hit(saturday, resolve_after=3 * 86400))
    out += b.advance(saturday + 2 * 86400)
    [sent] = notes(out)
    assert sent.receiver == "page"
    assert sent.at == "2026-11-30T00:00:30Z"  # the first hourly flush on Monday


def test_a_route_active_only_in_office_hours_is_quiet_outside_them():
    evening = parse_time("2026-11-25T20:00:00Z")
    b = book(
        route={"receiver": "page", "group_interval": "1h", "repeat_interval": "7d"}
        | {
            "routes": [
                {
                    "matchers": ["team=payments"],
                    "receiver": "desk",
                    "active_time_intervals": ["office-hours"],
                }
            ]
        },
        **TIME,
    )
    out = b.on_hit(hit(evening, resolve_after=86400))
    out += b.advance(evening + 86400)
    assert [(n.receiver, n.at) for n in notes(out)] == [("desk", "2026-11-26T09:00:30Z")]


def test_a_flapping_detector_pages_once_while_the_log_keeps_every_transition():
    b = book(**one_receiver())
    out = []
    for step in range(61):
        ended = step % 2 == 1
        out += b.on_hit(hit(T0 + 10 * step, source="detector", rule="latency", resolved=ended))
    out += b.advance(T0 + 1200)
    assert len(moves(out, "incident.opened")) == 31
    assert len(moves(out, "incident.resolved")) == 30
    assert [(n.transition, n.at) for n in notes(out)] == [("incident.opened", iso(T0 + 30))]


def test_continue_sends_one_incident_to_every_matching_route():
    b = book(
        route={
            "receiver": "fallback",
            "group_wait": "10s",
            "routes": [
                {"matchers": ["team=payments"], "receiver": "slack-payments", "continue": True},
                {"matchers": ["severity=~high|critical"], "receiver": "sns-security"},
                {"matchers": ["team=payments"], "receiver": "never-reached"},
            ],
        }
    )
    b.on_hit(hit(T0, severity="critical", resolve_after=600))
    sent = notes(b.advance(T0 + 60))
    assert sorted(n.receiver for n in sent) == ["slack-payments", "sns-security"]


def test_a_severity_rise_renotifies_and_reaches_routes_for_the_graver_severity():
    b = book(
        route={
            "receiver": "chat",
            "group_by": ["rule_id"],
            "routes": [{"matchers": ["severity=critical"], "receiver": "pager", "continue": True}],
        }
    )
    b.on_hit(hit(T0, severity="high", resolve_after=3600))
    assert [n.receiver for n in notes(b.advance(T0 + 60))] == ["chat"]
    b.on_hit(hit(T0 + 100, severity="critical", resolve_after=3600))
    sent = notes(b.advance(T0 + 400))
    assert sorted((n.receiver, n.transition, n.at) for n in sent) == [
        ("chat", "incident.updated", iso(T0 + 330)),
        ("pager", "incident.opened", iso(T0 + 130)),
    ]


def test_an_acknowledgement_is_told_to_those_who_were_notified():
    b = book(**one_receiver())
    opened = moves(b.on_hit(hit(T0, resolve_after=3600)))[0].incident
    b.advance(T0 + 60)
    sent = notes(control(b, type="ack", at=T0 + 90, incident=opened["id"], by="dana"))
    assert [(n.receiver, n.transition) for n in sent] == [("page", "incident.acknowledged")]
    assert sent[0].incidents[0]["acknowledged"]["by"] == "dana"


def test_notification_keys_are_unique_per_receiver_and_transition():
    b = book(route={"receiver": ["a", "b"]})
    b.on_hit(hit(T0, resolve_after=60))
    sent = notes(b.advance(T0 + 1000))
    keys = [n.key for n in sent]
    assert len(sent) == 4
    assert len(set(keys)) == 4
