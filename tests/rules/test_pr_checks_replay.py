"""pr-without-passing-assertion and the opt-in pr-without-any-assertion through `spanwatch
replay`, as a user runs it: sessions batched together, records out of order within a batch."""

from __future__ import annotations

import orjson
import pytest
import yaml

from tests.replay_cli import replay_raised

T0 = 1_796_083_200  # 2026-12-01 00:00 UTC; the sessions run late evening in UTC-7 (06:00 UTC)
MINUTE_NS = 60_000_000_000


def span(session: str, i: int, minute: float, name: str, **attributes: object) -> dict:
    """One span of a session, ending `minute` minutes after 06:00 UTC."""
    end = (T0 + 6 * 3600) * 1_000_000_000 + int(minute * MINUTE_NS)
    values = [{"key": "session.id", "value": {"stringValue": session}}]
    for key, value in attributes.items():
        kind = "boolValue" if isinstance(value, bool) else "stringValue"
        values.append({"key": key, "value": {kind: value}})
    return {
        "traceId": session.encode().hex().ljust(32, "0")[:32],
        "spanId": f"{i + 1:016x}",
        "name": name,
        "startTimeUnixNano": str(end - 50_000_000),
        "endTimeUnixNano": str(end),
        "attributes": values,
    }


def check(session: str, i: int, minute: float, passed: bool) -> dict:
    return span(
        session, i, minute, "assertion", **{"assertion.name": "suite", "assertion.passed": passed}
    )


def pull_request(session: str, i: int, minute: float) -> dict:
    return span(session, i, minute, "pr.create", **{"pr.base": "trunk"})


def request(user: str, spans: list[dict]) -> bytes:
    resource = {"attributes": [{"key": "user.email", "value": {"stringValue": user}}]}
    return orjson.dumps(
        {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}
    )


def history() -> list[bytes]:
    """Two users' sessions in two batches, each batch's records newest first."""
    mateo = [
        *(check("fixed", i, 1 + i, passed=i == 2) for i in range(3)),  # fail, fail, pass
        pull_request("fixed", 3, 9),
        check("broken", 0, 2, passed=True),
        check("broken", 1, 7.5, passed=False),
        pull_request("broken", 2, 8),
        pull_request("docs-only", 0, 30),
    ]
    sofia = [
        check("tests-here", 0, 4, passed=False),  # another session's failure does not count
        pull_request("pr-there", 0, 5),
    ]
    return [request("mateo@example.mx", mateo[::-1]), request("sofia@example.es", sofia[::-1])]


def opened_groups(opened: list[dict], rule: str) -> list[dict]:
    return [i["group"] for i in opened if i["rule_id"] == rule]


def recorded(tmp_path, lines: list[bytes], *options: str) -> list[dict]:
    """The findings a replay records; the quality rules produce findings, never incidents."""
    opened, findings = replay_raised(tmp_path, lines, "--quiet", *options)
    assert [i for i in opened if i["rule_id"].startswith("pr-")] == []
    return findings


def test_by_default_only_a_pull_request_over_a_failing_check_is_a_finding(tmp_path):
    findings = recorded(tmp_path, history())
    broken = {"user": "mateo@example.mx", "session": "broken"}
    assert opened_groups(findings, "pr-without-passing-assertion") == [broken]
    assert opened_groups(findings, "pr-without-any-assertion") == []


@pytest.mark.parametrize(
    "packs", [["claude_code", "claude_code_strict"], ["claude_code_strict", "claude_code"]]
)
def test_the_opt_in_pack_adds_pull_requests_with_no_check(tmp_path, packs):
    config = tmp_path / "spanwatch.yml"
    config.write_text(yaml.safe_dump({"rules": {"packs": packs}}))
    opened = recorded(tmp_path, history(), "--config", str(config))
    unchecked = [
        {"user": "mateo@example.mx", "session": "docs-only"},
        {"user": "sofia@example.es", "session": "pr-there"},
    ]
    groups = opened_groups(opened, "pr-without-any-assertion")
    assert sorted(groups, key=lambda g: g["session"]) == unchecked
    assert len(opened_groups(opened, "pr-without-passing-assertion")) == 1


def named_check(session: str, i: int, minute: float, name: str, passed: bool) -> dict:
    return span(
        session, i, minute, "assertion", **{"assertion.name": name, "assertion.passed": passed}
    )


@pytest.mark.parametrize("batches", ["one request", "one request per check", "reversed"])
def test_a_test_run_reporting_a_failure_beside_passes_at_one_instant_is_not_failing(
    tmp_path, batches
):
    """A test runner's checks end together. Whichever order the stream holds them in (here
    the failing check's name sorts last), a run that reports a pass beside a failure cleared
    the session; a run reporting only failures did not."""
    user = "ines@example.pt"
    mixed = [
        named_check("mixed", 0, 12.5, "unit: utils.formatDate", passed=False),
        named_check("mixed", 1, 12.5, "e2e/checkout.spec.ts", passed=True),
        named_check("mixed", 2, 12.5, "typecheck", passed=True),
        pull_request("mixed", 3, 17),
    ]
    failing = [
        named_check("failing", 0, 12.5, "unit: utils.formatDate", passed=False),
        named_check("failing", 1, 12.5, "typecheck", passed=False),
        pull_request("failing", 2, 17),
    ]
    spans = mixed + failing
    if batches == "one request":
        lines = [request(user, spans)]
    elif batches == "one request per check":
        lines = [request(user, [s]) for s in spans]
    else:
        lines = [request(user, spans[::-1])]
    opened = recorded(tmp_path, lines)
    assert opened_groups(opened, "pr-without-passing-assertion") == [
        {"user": user, "session": "failing"}
    ]
