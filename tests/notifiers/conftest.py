"""Shared fixtures: notifications, fast delivery settings, moto's server, fake services."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from notifiers.config import DeliveryConfig, NotifiersConfig
from notifiers.dispatcher import Dispatcher
from notifiers.model import Notification
from tests.loopback_ports import free_port
from tests.notifiers.fakes import FakeService, Reply
from tests.patience import PATIENCE


def make_incident(n: int = 1, **overrides: Any) -> dict[str, Any]:
    incident = {
        "id": f"inc-{n}",
        "fingerprint": f"fp-{n}",
        "source": "rule",
        "rule_id": "shell-pipe-to-shell",
        "title": "Shell command pipes a download into a shell",
        "severity": "critical",
        "status": "firing",
        "group": {"user": "alice", "team": "payments"},
        "first_seen": "2026-11-28T03:04:05Z",
        "last_seen": "2026-11-28T03:04:05Z",
        "count": 1,
        "escalation_level": 0,
        "labels": {"runbook": "https://runbooks.example.com/shell-pipe"},
        "evidence": {"command": "curl -s https://get.example.com | sh", "repo": "payments-api"},
    }
    incident.update(overrides)
    return incident


def make_notification(
    key: str = "grp-1:incident.opened:0",
    receiver: str = "console",
    transition: str = "incident.opened",
    incidents: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> Notification:
    fields: dict[str, Any] = {
        "key": key,
        "receiver": receiver,
        "status": "resolved" if transition == "incident.resolved" else "firing",
        "transition": transition,
        "at": "2026-11-28T03:04:05Z",
        "group_labels": {"team": "payments"},
        "incidents": incidents if incidents is not None else [make_incident()],
    }
    fields.update(overrides)
    return Notification(**fields)


FAST = {
    "backoff_initial_seconds": 0.01,
    "backoff_max_seconds": 0.05,
    "jitter": 0.0,
    "timeout_seconds": 60.0,  # a busy machine's moto may take seconds: no send times out here
    "breaker_reset_seconds": 0.05,
    "max_attempts": 4,
}


def fast_config(receivers: list[Any], **delivery: Any) -> NotifiersConfig:
    """A configuration whose retries and backoff take milliseconds."""
    return NotifiersConfig(receivers=receivers, delivery=DeliveryConfig(**{**FAST, **delivery}))


def wait_until(predicate: Callable[[], bool], timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.005)
    raise AssertionError("condition not reached in time")


def deliver_all(
    config: NotifiersConfig, state_dir: Any, notifications: list[Notification], **kwargs: Any
) -> dict:
    """Runs a dispatcher until everything is finished; returns its stats."""
    dispatcher = Dispatcher(config, state_dir, **kwargs)
    dispatcher.start()
    for notification in notifications:
        dispatcher.submit(notification)
    dispatcher.close(timeout=PATIENCE)  # returns once everything is delivered
    return dispatcher.stats


@pytest.fixture
def service() -> Iterator[Callable[[Callable], FakeService]]:
    """Factory for FakeService instances that are stopped after the test."""
    started: list[FakeService] = []

    def start(responder: Callable = lambda _r: Reply(200, "ok")) -> FakeService:
        fake = FakeService(responder)
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test credentials for AWS clients, for this test only: set for the whole session they
    stayed in the environment of every later test of the same worker (botocore then logs that
    it found them, which changed what a later command printed)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's server on a free loopback port (SNS, SQS, Secrets Manager), once per worker."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def moto_url(aws_env: None, moto_server: str) -> str:
    """moto's server's URL, with test credentials in the environment."""
    return moto_server


@pytest.fixture(scope="session")
def moto_server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """moto's server as its own process, recording requests (for responders' targets)."""
    from tests.notifiers.aws_targets import MotoProcess

    moto = MotoProcess(tmp_path_factory.mktemp("moto") / "recording.jsonl")
    yield moto
    moto.stop()


@pytest.fixture
def moto_process(aws_env: None, moto_server_process: Any) -> Any:
    """moto's server process, with test credentials in the environment."""
    return moto_server_process


def responders_config(responders: list[Any], **delivery: Any) -> NotifiersConfig:
    """Only the given responders, with retries and backoff that take milliseconds."""
    return NotifiersConfig(
        receivers=[], responders=responders, delivery=DeliveryConfig(**{**FAST, **delivery})
    )
