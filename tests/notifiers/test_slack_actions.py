"""Slack's interactive callback over real HTTP on loopback (uvicorn in a thread)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn

from notifiers.channels.slack_blocks import ACK_ACTION, RESOLVE_ACTION
from notifiers.slack_actions import controls_from_payload, make_slack_actions_app
from tests.notifiers.conftest import free_port
from tests.patience import PATIENCE

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_800_000_000.0


def signed(body: bytes, timestamp: float, secret: str = SECRET) -> dict[str, str]:
    ts = str(int(timestamp))
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def button_press(action_id: str, incident: str = "inc-42") -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U123", "username": "oncall.bob", "name": "bob"},
        "actions": [{"action_id": action_id, "value": incident, "type": "button"}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


@pytest.fixture
def callback() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []
    app = make_slack_actions_app(SECRET, received.append, clock=lambda: NOW)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + PATIENCE
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}/slack/actions", received
    server.should_exit = True
    thread.join(5)


def test_acknowledge_button_becomes_an_ack_control_event(callback) -> None:
    url, received = callback
    body = button_press(ACK_ACTION)
    response = httpx.post(url, content=body, headers=signed(body, NOW - 10))
    assert response.status_code == 200
    assert received == [
        {"type": "ack", "at": NOW, "incident": "inc-42", "by": "oncall.bob", "comment": "via slack"}
    ]


def test_resolve_button_becomes_a_resolve_control_event(callback) -> None:
    url, received = callback
    body = button_press(RESOLVE_ACTION, "inc-7")
    assert httpx.post(url, content=body, headers=signed(body, NOW)).status_code == 200
    assert [(c["type"], c["incident"]) for c in received] == [("resolve", "inc-7")]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: signed(body, NOW, secret="wrong-secret"), id="bad-signature"),
        pytest.param(lambda body: signed(body, NOW - 301), id="stale"),
        pytest.param(lambda body: signed(body, NOW + 301), id="from-the-future"),
        pytest.param(lambda body: {}, id="unsigned"),
        pytest.param(
            lambda body: {**signed(body, NOW), "X-Slack-Request-Timestamp": "soon"},
            id="timestamp-not-a-number",
        ),
        pytest.param(
            lambda body: signed(body + b"&tampered=1", NOW), id="body-changed-after-signing"
        ),
    ],
)
def test_unsigned_wrong_or_stale_requests_are_refused_with_401(callback, headers) -> None:
    url, received = callback
    body = button_press(ACK_ACTION)
    response = httpx.post(url, content=body, headers=headers(body))
    assert response.status_code == 401
    assert received == []


def test_signed_but_malformed_body_is_a_400(callback) -> None:
    url, received = callback
    body = b"payload=%7Bnot-json"
    assert httpx.post(url, content=body, headers=signed(body, NOW)).status_code == 400
    assert received == []


def test_other_interactions_are_accepted_and_ignored() -> None:
    assert controls_from_payload({"type": "view_submission"}, NOW) == []
    payload = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "actions": [{"action_id": "something_else", "value": "x"}],
    }
    assert controls_from_payload(payload, NOW) == []
