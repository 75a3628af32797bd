"""The signed generic webhook, the console and the incident-log file receivers."""

from __future__ import annotations

import json
import time

from notifiers.channels.webhook import TIMESTAMP_HEADER, verify
from notifiers.config import (
    ConsoleReceiverConfig,
    FileReceiverConfig,
    NotifiersConfig,
    WebhookReceiverConfig,
)
from notifiers.secret_refs import SecretResolver
from tests.notifiers.conftest import deliver_all, fast_config, make_incident, make_notification
from tests.notifiers.fakes import Reply

KEY = "hmac-shared-key-0123456789"


def webhook_config(url: str, **extra) -> NotifiersConfig:
    return fast_config(
        [WebhookReceiverConfig(name="hook", url=url, hmac_key={"env": "HOOK_KEY"}, **extra)]
    )


def test_webhook_body_is_signed_with_hmac_sha256_over_timestamp_and_body(service, tmp_path) -> None:
    fake = service()
    config = webhook_config(fake.url + "/in", headers={"X-Team": "sec"})
    stats = deliver_all(
        config,
        tmp_path,
        [make_notification(receiver="hook")],
        secrets=SecretResolver({"HOOK_KEY": KEY}),
    )
    assert stats["sent"] == 1
    (request,) = fake.requests
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert verify(
        KEY.encode(),
        request.body,
        headers[TIMESTAMP_HEADER.lower()],
        headers["x-spanwatch-signature"],
        now=time.time(),
    )
    assert not verify(
        b"other-key",
        request.body,
        headers[TIMESTAMP_HEADER.lower()],
        headers["x-spanwatch-signature"],
        now=time.time(),
    )
    assert not verify(
        KEY.encode(),
        request.body + b" ",
        headers[TIMESTAMP_HEADER.lower()],
        headers["x-spanwatch-signature"],
        now=time.time(),
    )
    assert headers["idempotency-key"] == "grp-1:incident.opened:0"
    assert headers["x-team"] == "sec"
    body = json.loads(request.body)
    assert body["transition"] == "incident.opened" and body["incidents"][0]["id"] == "inc-1"


def test_signature_older_than_the_tolerance_is_refused() -> None:
    from notifiers.channels.webhook import sign

    signature = sign(b"k", "1000", b"{}")
    assert verify(b"k", b"{}", "1000", signature, now=1100)
    assert not verify(b"k", b"{}", "1000", signature, now=1000 + 301)
    assert not verify(b"k", b"{}", "not-a-number", signature, now=1000)


def test_webhook_retries_503_and_honours_retry_after(service, tmp_path) -> None:
    fake = service()
    fake.script(Reply(503, "busy", {"Retry-After": "0.15"}))
    stats = deliver_all(
        webhook_config(fake.url + "/in"),
        tmp_path,
        [make_notification(receiver="hook")],
        secrets=SecretResolver({"HOOK_KEY": KEY}),
    )
    first, second = fake.requests
    assert stats["sent"] == 1 and second.at - first.at >= 0.15


def test_console_prints_one_readable_line(tmp_path, capsys) -> None:
    config = fast_config([ConsoleReceiverConfig(name="console")])
    deliver_all(config, tmp_path, [make_notification()])
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "[CRITICAL] Shell command pipes a download into a shell — firing · opened" in out
    assert "team=payments" in out and "inc-1" in out


def test_console_json_format_prints_the_notification(tmp_path, capsys) -> None:
    config = fast_config([ConsoleReceiverConfig(name="console", format="json")])
    deliver_all(config, tmp_path, [make_notification()])
    assert json.loads(capsys.readouterr().out)["key"] == "grp-1:incident.opened:0"


def test_file_receiver_writes_incident_log_lines_under_the_state_dir(tmp_path) -> None:
    config = fast_config([FileReceiverConfig(name="log", path="logs/incidents.jsonl")])
    two = [make_incident(1), make_incident(2, severity="high")]
    deliver_all(config, tmp_path, [make_notification(receiver="log", incidents=two)])
    lines = (tmp_path / "logs" / "incidents.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"type": "incident.opened", "at": "2026-11-28T03:04:05Z", "incident": incident}
        for incident in two
    ]


def test_file_receiver_that_cannot_write_dead_letters_without_retrying(tmp_path) -> None:
    (tmp_path / "adir").mkdir()
    config = fast_config([FileReceiverConfig(name="log", path="adir")])
    stats = deliver_all(config, tmp_path, [make_notification(receiver="log")])
    assert stats["dead_lettered"] == 1 and stats["failed_attempts"] == 1
