"""repeated-assertion-failures through `spanwatch replay` on the default pack: a session whose
test runs fail and pass by turns is ordinary work; one whose assertions only fail is a loop."""

from __future__ import annotations

import random

import orjson

from tests.replay_cli import replay_raised

T0 = 1_794_960_000  # 2026-11-18 00:00 UTC; the sessions below run in the evening, UTC+5:30
MINUTE_NS = 60_000_000_000


def session_request(user: str, session: str, runs: list[tuple[float, str, bool]]) -> bytes:
    """One OTLP/JSON traces request holding a whole session: (minute, test name, passed)."""
    spans = []
    for i, (minute, name, passed) in enumerate(runs):
        end = (T0 + 13 * 3600) * 1_000_000_000 + int(minute * MINUTE_NS)
        spans.append(
            {
                "traceId": session.encode().hex().ljust(32, "0")[:32],
                "spanId": f"{i + 1:016x}",
                "name": "assertion",
                "startTimeUnixNano": str(end - 40_000_000),
                "endTimeUnixNano": str(end),
                "attributes": [
                    {"key": "session.id", "value": {"stringValue": session}},
                    {"key": "assertion.name", "value": {"stringValue": name}},
                    {"key": "assertion.passed", "value": {"boolValue": passed}},
                ],
            }
        )
    resource = {"attributes": [{"key": "user.email", "value": {"stringValue": user}}]}
    return orjson.dumps(
        {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}
    )


def fixing_a_flaky_test(rng: random.Random) -> list[tuple[float, str, bool]]:
    """40 minutes of reruns: the test being fixed fails most runs (30+ times), passes now and
    then, and its neighbours pass."""
    runs, minute = [], 0.0
    while minute < 40:
        runs.append((minute, "orders > rejects invalid", rng.random() < 0.2))
        if rng.random() < 0.5:
            runs.append((minute + 0.05, "orders > paginates", True))
        minute += rng.uniform(0.3, 1.6)
    return runs


def test_sessions_fixing_tests_raise_nothing_and_a_failing_loop_does(tmp_path):
    rng = random.Random(20261118)
    fixing = [fixing_a_flaky_test(rng) for _ in range(3)]
    assert all(sum(not passed for _, _, passed in runs) >= 25 for runs in fixing)
    loop = [(0.0, "api > health", True)]
    loop += [(3 + i * 0.4, f"api > case {i % 3}", False) for i in range(25)]
    # One line per session, sessions in the order they started, their records overlapping.
    lines = [
        session_request("priya@example.in", "fix-1", fixing[0]),
        session_request("priya@example.in", "loop-1", loop),
        session_request("arjun@example.in", "fix-2", fixing[1]),
        session_request("arjun@example.in", "fix-3", [(m + 2, n, p) for m, n, p in fixing[2]]),
    ]
    opened, findings = replay_raised(tmp_path, lines, "--quiet")
    assert [i for i in opened if i["rule_id"] == "repeated-assertion-failures"] == []
    loops = [f for f in findings if f["rule_id"] == "repeated-assertion-failures"]
    assert [f["group"] for f in loops] == [{"user": "priya@example.in", "session": "loop-1"}]
