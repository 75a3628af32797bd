"""The detection-quality scorer matches by kind: handcrafted truth, history and incident log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson

from bench.detection_quality import report, score

START_NS = 1_780_000_000 * 1_000_000_000  # 2026-05-28T20:26:40Z
MINUTE_NS = 60_000_000_000


def at(minute: float) -> str:
    seconds = START_NS // 1_000_000_000 + int(minute * 60)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def call(minute: float, user: str, team: str) -> bytes:
    attrs = {"user": user, "team": team, "session.id": f"{user}-s", "model": "claude-sonnet-4-5"}
    end = START_NS + int(minute * MINUTE_NS)
    span = {
        "traceId": "ab" * 16,
        "spanId": f"{int(minute * 10) + 1:016x}",
        "name": "claude.invoke",
        "startTimeUnixNano": str(end - 1_000_000_000),
        "endTimeUnixNano": str(end),
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()],
    }
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})


def opened(minute: float, rule_id: str, **group: str) -> dict:
    return {
        "type": "incident.opened",
        "at": at(minute),
        "incident": {"rule_id": rule_id, "severity": "high", "group": group},
    }


def write_lines(path: Path, rows: list) -> Path:
    path.write_bytes(b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n"
                              for r in rows))  # fmt: skip
    return path


def test_coincident_incidents_are_false_and_each_kind_names_what_found_it(tmp_path, capsys):
    history = write_lines(
        tmp_path / "history.jsonl",
        [call(m, "ann@x.io", "web") for m in range(0, 120, 5)]
        + [call(m, "bo@x.io", "ops") for m in range(0, 120, 7)],
    )
    truth = write_lines(
        tmp_path / "truth.jsonl",
        [
            {
                "kind": "cache_hit_collapse",
                "start": at(10),
                "end": at(70),
                "group": {"team": "web"},
                "severity": "medium",
            },
            {
                "kind": "repo_sprawl",
                "start": at(20),
                "end": at(40),
                "group": {"user": "bo@x.io"},
                "severity": "medium",
            },
            {
                "kind": "mystery",
                "start": at(30),
                "end": at(50),
                "group": {"user": "bo@x.io"},
                "severity": "low",
            },
        ],
    )
    log = write_lines(
        tmp_path / "incidents.jsonl",
        [
            opened(25, "pr-without-passing-assertion", user="ann@x.io", session="ann@x.io-s"),
            opened(30, "cache-hit-ratio-per-team", team="web"),
            opened(35, "cost-per-team", team="web"),
            opened(36, "team-silent", team="ops"),  # bo's team, bo's sprawl: a coincidence
            opened(45, "repos-new-to-user", user="bo@x.io"),
        ],
    )
    s = score([str(history)], truth, log)
    collapse, sprawl, mystery = (
        s.kinds[k] for k in ("cache_hit_collapse", "repo_sprawl", "mystery")
    )
    assert (collapse.detected, collapse.found_by, collapse.coincident) == (
        1, ["cache-hit-ratio-per-team", "cost-per-team"], 1,
    )  # fmt: skip
    assert collapse.delays == [20 * 60.0]
    assert (sprawl.found_by, sprawl.coincident, sprawl.delays) == (
        ["repos-new-to-user"], 1, [25 * 60.0],
    )  # fmt: skip
    # an unknown kind takes whatever fits, and is reported so
    assert not mystery.kind_known
    assert mystery.found_by == ["team-silent", "repos-new-to-user"]
    assert (s.opened, s.matched) == (5, 4)
    assert s.false_by_rule == {"pr-without-passing-assertion": 1}
    report("handmade", s, show_false=False)
    out = capsys.readouterr().out
    assert "cache_hit_collapse           cache-hit-ratio-per-team, cost-per-team" in out
    assert "1 fitting by labels and time only" in out
    assert "mystery" in out and "kind unknown" in out


def test_notified_counts_what_on_call_was_told_and_people_inside_a_team_burst(tmp_path):
    """With the replay's notifications, an incident inhibited (never in one) is not notified;
    a person's error incidents inside a team's burst are counted opened and notified."""
    history = write_lines(
        tmp_path / "history.jsonl",
        [call(m, u, "web") for m in range(0, 60, 2) for u in ("ann@x.io", "bo@x.io")]
        + [call(m, "cy@x.io", "ops") for m in range(0, 60, 3)],
    )
    burst = {"kind": "team_error_burst", "start": at(10), "end": at(30),
             "group": {"team": "web"}, "severity": "critical"}  # fmt: skip
    alone = {"kind": "user_error_burst", "start": at(10), "end": at(30),
             "group": {"user": "cy@x.io"}, "severity": "medium"}  # fmt: skip
    truth = write_lines(tmp_path / "truth.jsonl", [burst, alone])
    lines = [
        opened(12, "error-rate-per-team", team="web"),
        opened(14, "error-rate-per-user", user="ann@x.io"),
        opened(15, "user-error-burst", user="bo@x.io", team="web"),
        opened(15, "error-rate-per-user", user="cy@x.io"),  # failing alone, in another team
    ]
    for n, line in enumerate(lines):
        line["incident"]["id"] = f"i{n}"
    log = write_lines(tmp_path / "incidents.jsonl", lines)
    notes = write_lines(
        tmp_path / "notifications.jsonl",
        [{"status": "firing", "incidents": ["i0"]}, {"status": "firing", "incidents": ["i3"]}],
    )
    s = score([str(history)], truth, log, notes)
    assert (s.opened, s.matched, s.notified, s.notified_matched) == (4, 4, 2, 2)
    assert s.person_in_burst == (2, 0)
    older = score([str(history)], truth, log, tmp_path / "absent.jsonl")  # no notifications
    assert (older.notified, older.person_in_burst) == (4, (2, 2))
