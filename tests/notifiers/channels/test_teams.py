"""Teams: Workflows Adaptive Cards (default) and legacy MessageCards, against loopback fakes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from notifiers.channels.teams import MAX_PAYLOAD_BYTES, fitted_payload, payload_size
from notifiers.config import TeamsReceiverConfig
from notifiers.secret_refs import SecretResolver
from tests.notifiers.conftest import deliver_all, fast_config, make_incident, make_notification
from tests.notifiers.fakes import (
    Reply,
    adaptive_card_problems,
    teams_connector_responder,
    teams_workflow_responder,
)

WORKFLOW_PATH = "/workflows/abc/triggers/manual/paths/invoke?sig=teamssecret"


def teams_setup(service, responder=teams_workflow_responder, **receiver):
    fake = service(responder)
    teams = TeamsReceiverConfig(name="teams", webhook_url={"env": "TEAMS_URL"}, **receiver)
    return fake, fast_config([teams]), SecretResolver({"TEAMS_URL": fake.url + WORKFLOW_PATH})


def test_workflows_webhook_gets_an_adaptive_card_envelope_and_202_is_success(
    service, tmp_path
) -> None:
    fake, config, secrets = teams_setup(service)
    stats = deliver_all(config, tmp_path, [make_notification(receiver="teams")], secrets=secrets)
    assert stats["sent"] == 1 and stats.get("failed_attempts", 0) == 0
    payload = fake.requests[0].json()
    assert adaptive_card_problems(payload) == []
    card = payload["attachments"][0]["content"]
    assert card["version"] == "1.4"
    assert card["body"][0]["text"].startswith("[CRITICAL] Shell command pipes")
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Runbook",
            "url": "https://runbooks.example.com/shell-pipe",
        }
    ]
    facts = {f["title"]: f["value"] for f in card["body"][3]["items"][1]["facts"]}
    assert facts["Rule"] == "shell-pipe-to-shell (rule)" and facts["Incident"] == "inc-1"


def test_legacy_connector_gets_a_message_card(service, tmp_path) -> None:
    fake, config, secrets = teams_setup(service, teams_connector_responder, format="message_card")
    stats = deliver_all(config, tmp_path, [make_notification(receiver="teams")], secrets=secrets)
    assert stats["sent"] == 1
    payload = fake.requests[0].json()
    assert payload["@type"] == "MessageCard" and payload["themeColor"] == "D32F2F"
    assert payload["sections"][0]["facts"][0] == {"name": "Severity", "value": "critical"}
    assert payload["potentialAction"][0]["target"] == ["https://runbooks.example.com/shell-pipe"]


def test_huge_notifications_are_cut_under_28_kb_and_say_so(service, tmp_path) -> None:
    fake, config, secrets = teams_setup(service)
    incidents = [
        make_incident(i, evidence={f"f{j}": "x" * 3000 for j in range(10)}) for i in range(12)
    ]
    notification = make_notification(receiver="teams", incidents=incidents)
    stats = deliver_all(config, tmp_path, [notification], secrets=secrets)
    assert stats["sent"] == 1  # the fake answers 413 above 28 KB, like Teams
    body = fake.requests[0].body
    assert len(body) <= MAX_PAYLOAD_BYTES
    assert "more incidents not shown" in body.decode()


def test_429_and_500_are_retried(service, tmp_path) -> None:
    fake, config, secrets = teams_setup(service)
    fake.script(Reply(429, "Too many", {"Retry-After": "0.1"}), Reply(502, "bad gateway"))
    stats = deliver_all(config, tmp_path, [make_notification(receiver="teams")], secrets=secrets)
    assert len(fake.requests) == 3
    assert stats["sent"] == 1 and stats["rate_limited"] == 1
    assert fake.requests[2].at - fake.requests[0].at >= 0.1


def test_a_slow_teams_endpoint_times_out_and_is_retried(service, tmp_path) -> None:
    fake, config, secrets = teams_setup(service, timeout_seconds=1.0)
    fake.script(Reply(202, held=True))
    stats = deliver_all(config, tmp_path, [make_notification(receiver="teams")], secrets=secrets)
    # every attempt but the last timed out: the held one always, a prompt one only when a busy
    # machine stalls the client past its timeout
    assert stats["sent"] == 1 and stats["failed_attempts"] == len(fake.requests) - 1 >= 1


def test_a_rejected_card_is_dead_lettered_without_the_webhook_url(service, tmp_path) -> None:
    fake, config, secrets = teams_setup(service)
    fake.script(Reply(400, "Bad payload"))
    stats = deliver_all(config, tmp_path, [make_notification(receiver="teams")], secrets=secrets)
    assert stats["dead_lettered"] == 1 and len(fake.requests) == 1
    text = (tmp_path / "dead-letters.jsonl").read_text()
    assert "HTTP 400: Bad payload" in json.loads(text)["reason"]
    assert "teamssecret" not in text


@settings(max_examples=25, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=30),
    size=st.integers(min_value=0, max_value=5000),
    fmt=st.sampled_from(["adaptive_card", "message_card"]),
)
def test_any_notification_fits_the_teams_limit(count: int, size: int, fmt: str) -> None:
    incidents = [
        make_incident(i, title="t" * size, evidence={"e": "é" * size}) for i in range(count)
    ]
    config = TeamsReceiverConfig(name="t", webhook_url={"env": "X"}, format=fmt)
    payload = fitted_payload(make_notification(incidents=incidents), config)
    assert payload_size(payload) <= MAX_PAYLOAD_BYTES
