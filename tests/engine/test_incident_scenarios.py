"""Incident lifecycle scenarios through the whole dataflow in replay (`--control`, what-if)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from engine.config import load_config
from engine.replay_run import ReplayOptions, run_replay

T0 = 1_764_316_800.0  # a Friday, 08:00 UTC

RULE = """
title: Download piped into a shell (per user and team)
name: pipe-to-shell-team
level: critical
logsource: {product: claude_code}
detection:
  sel:
    name: shell.run
    command|contains: '| sh'
  condition: sel
spanwatch:
  group-by: [user, team]
  resolve-after: 10m
"""

CONFIG = """
stream: {allowed_lateness: 0, tick: 10}
notifiers:
  receivers:
    - {name: oncall, type: console}
    - {name: manager, type: console}
    - {name: security, type: console}
incidents:
  update_interval: 1h
  noise_budget: {incidents: 100}  # these scenarios are about grouping; storms: test_noise_budget
  route:
    receiver: oncall
    group_by: [team, rule_id]
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 4h
    routes:
      - matchers: ['severity="critical"']
        receiver: security
        group_by: [team, rule_id]
        group_wait: 30s
        group_interval: 5m
        escalation: page
  escalation_policies:
    - name: page
      levels:
        - {receivers: [security], timeout: 5m}
        - {receivers: [manager], timeout: 10m}
"""


def hit(t: float, user: str, team: str = "payments") -> bytes:
    return orjson.dumps(
        {"time": t, "name": "shell.run", "user": user, "team": team, "command": "curl x | sh"}
    )


def replay(
    tmp: Path, lines: list[bytes], control: list[dict] | None = None, workers: int = 1
) -> tuple[list, list]:
    (tmp / "rule.yml").write_text(RULE)
    (tmp / "spanwatch.yml").write_text(CONFIG)
    (tmp / "history.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    ctl = None
    if control is not None:
        ctl = tmp / "control.jsonl"
        ctl.write_bytes(b"".join(orjson.dumps(c) + b"\n" for c in control))
    options = ReplayOptions(
        paths=[str(tmp / "history.jsonl")],
        out=str(tmp / "incidents.jsonl"),
        rules=[str(tmp / "rule.yml")],
        control=str(ctl) if ctl else None,
        notifications=str(tmp / "notifications.jsonl"),
        workers=workers,
    )
    run_replay(load_config(tmp / "spanwatch.yml"), options)
    log = [orjson.loads(x) for x in (tmp / "incidents.jsonl").read_bytes().splitlines()]
    notes = [orjson.loads(x) for x in (tmp / "notifications.jsonl").read_bytes().splitlines()]
    return log, notes


def test_a_burst_across_fifty_users_of_one_team_is_one_notification(tmp_path):
    lines = [hit(T0 + i * 0.4, f"user{i:02d}") for i in range(50)]  # within group_wait
    log, notes = replay(tmp_path, lines)
    opened = [x for x in log if x["type"] == "incident.opened"]
    assert len(opened) == 50
    firing = [n for n in notes if n["status"] == "firing" and n["escalation_level"] == 0]
    assert [n["receiver"] for n in firing] == ["security"]
    assert len(firing[0]["incidents"]) == 50
    assert firing[0]["group_labels"] == {"team": "payments", "rule_id": "pipe-to-shell-team"}


def escalations(log: list[dict]) -> list[tuple[str, int]]:
    return [
        (x["at"], x["incident"]["escalation_level"])
        for x in log
        if x["type"] == "incident.escalated"
    ]


def test_an_unacknowledged_incident_escalates_on_time(tmp_path):
    # the problem keeps happening for half an hour
    lines = [hit(T0 + 60 * m, "eve") for m in range(30)]
    log, notes = replay(tmp_path, lines)
    # first announced at group_wait (30 s); level 1 after 5 min; level 2 after 10 more
    assert escalations(log)[:1] == [("2025-11-28T08:05:30Z", 1)]
    assert any(n["receiver"] == "manager" for n in notes)


def test_an_acknowledged_incident_stops_escalating(tmp_path):
    lines = [hit(T0 + 60 * m, "eve") for m in range(30)]
    incident_id = None
    log, _ = replay(tmp_path, lines)
    incident_id = next(x["incident"]["id"] for x in log if x["type"] == "incident.opened")
    ack = {"type": "ack", "at": T0 + 180, "incident": incident_id, "by": "oncall-alice"}
    log, notes = replay(tmp_path, lines, control=[ack])
    assert escalations(log) == []
    acked = [x for x in log if x["type"] == "incident.acknowledged"]
    assert len(acked) == 1 and acked[0]["at"] == "2025-11-28T08:03:00Z"
    assert not any(n["receiver"] == "manager" for n in notes)


def test_a_silence_mutes_until_it_expires(tmp_path):
    silence = {
        "type": "silence",
        "at": T0 - 60,
        "id": "maintenance",
        "matchers": ["team=payments"],
        "starts_at": T0 - 60,
        "ends_at": T0 + 1800,
        "created_by": "alice",
        "comment": "pentest",
    }
    lines = [hit(T0 + 60 * m, "mallory") for m in range(60)]
    log, notes = replay(tmp_path, lines, control=[silence])
    assert [x["type"] for x in log][:1] == ["incident.opened"]  # the log still records it
    firing = [n for n in notes if n["status"] == "firing"]
    assert firing, "the incident is announced once the silence has expired"
    assert min(n["at"] for n in firing) >= "2025-11-28T08:30:00Z"


def test_an_ack_for_an_unknown_incident_changes_nothing_and_is_reported(tmp_path):
    lines = [hit(T0 + 60 * m, "eve") for m in range(5)]
    baseline, base_notes = replay(tmp_path, lines)
    bogus = {"type": "ack", "at": T0 + 120, "incident": "no-such-incident", "by": "x"}
    (tmp_path / "rule.yml").write_text(RULE)
    log, notes = replay(tmp_path, lines, control=[bogus])
    assert log == baseline and notes == base_notes


def test_a_control_line_that_is_invalid_is_counted_as_a_bad_line(tmp_path):
    lines = [hit(T0, "eve")]
    bad_silence = {
        "type": "silence",
        "at": T0,
        "id": "x",
        "matchers": ["team=~(unclosed"],
        "starts_at": T0,
        "ends_at": T0 + 60,
    }
    (tmp_path / "rule.yml").write_text(RULE)
    (tmp_path / "spanwatch.yml").write_text(CONFIG)
    (tmp_path / "history.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (tmp_path / "control.jsonl").write_bytes(orjson.dumps(bad_silence) + b"\n")
    report = run_replay(
        load_config(tmp_path / "spanwatch.yml"),
        ReplayOptions(
            paths=[str(tmp_path / "history.jsonl")],
            rules=[str(tmp_path / "rule.yml")],
            control=str(tmp_path / "control.jsonl"),
        ),
    )
    stats = report.result.summary.stats
    assert stats["bad_lines"] == 1
    assert "control.jsonl:1" in stats["bad_examples"][0]


@pytest.mark.parametrize("workers", [2, 4])
def test_what_if_runs_are_deterministic(tmp_path, workers):
    lines = [hit(T0 + 7 * i, f"u{i % 7}", team=f"t{i % 3}") for i in range(200)]
    first = replay(tmp_path, lines)
    second = replay(tmp_path, lines, workers=workers)
    assert first == second
    assert first[0]  # incidents to agree on


DETECTOR_CONFIG = """
stream: {{allowed_lateness: 0, tick: 10}}
rules: {{packs: []}}
detectors:
  - id: shell-rate
    kind: seasonal
    title: Shell commands per user
    aggregation: count
    filter: {{name: shell.run}}
    group_by: [user]
    interval: 1m
    warmup: 1h
    for: 1
    keep_firing_for: {keep}
    # every busy minute must score afresh, so no suppression of repeats
    params: {{direction: up, repeat: 0}}
incidents:
  route: {{receiver: console, group_wait: 0s, group_interval: 1m}}
"""


def flapping_history(path: Path) -> None:
    """Two quiet hours, then half an hour alternating busy and quiet minutes."""
    with path.open("wb") as f:
        for m in range(180):
            busy = 120 <= m < 150 and (m - 120) % 2 == 0
            n = 60 if busy else 5 + m % 3
            for k in range(n):
                event = {"time": T0 + m * 60 + k * 59.0 / n, "name": "shell.run", "user": "flappy"}
                f.write(orjson.dumps(event) + b"\n")


def detector_run(tmp: Path, keep: int) -> tuple[list, list]:
    flapping_history(tmp / "h.jsonl")
    (tmp / f"cfg{keep}.yml").write_text(DETECTOR_CONFIG.format(keep=keep))
    notes = tmp / f"n{keep}.jsonl"
    out = tmp / f"o{keep}.jsonl"
    options = ReplayOptions(paths=[str(tmp / "h.jsonl")], out=str(out), notifications=str(notes))
    run_replay(load_config(tmp / f"cfg{keep}.yml"), options)
    log = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    sent = [orjson.loads(x) for x in notes.read_bytes().splitlines()]
    return log, sent


def test_a_flapping_detector_pages_once_when_keep_firing_for_spans_the_dips(tmp_path):
    undamped, _ = detector_run(tmp_path, keep=1)
    assert sum(x["type"] == "incident.opened" for x in undamped) > 1  # it does flap
    log, sent = detector_run(tmp_path, keep=5)
    assert [x["type"] for x in log if x["type"] != "incident.updated"] == [
        "incident.opened",
        "incident.resolved",
    ]
    assert [n["status"] for n in sent] == ["firing", "resolved"]
