"""`spanwatch run` stops within `live.stop_grace_seconds` on SIGTERM, at once on a second one,
and what it could not deliver by then is delivered after the next start, once.

Slack is a local server that takes the message and never answers while the engine runs: the
send is under way when the stop comes, as with a channel that hangs.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from tests.engine.live.test_event_time_live import SECRET, Client
from tests.engine.test_live_engine import Engine
from tests.notifiers.fakes import FakeService, Reply, slack_webhook_responder
from tests.patience import PATIENCE, wait_until

ROUTE = (
    "notifiers:\n  receivers:\n"
    "    - {name: security, type: slack, webhook_url: {env: SLACK_HOOK}}\n"
    "incidents:\n  route: {receiver: security, group_by: [rule_id], group_wait: 0s}\n"
)
# windows close an hour after an event: the only notification is the credential rule's hit
STREAM = "{allowed_lateness: 3600, tick: 60, heartbeat: 3600}"


def hanging_slack() -> FakeService:
    """Takes every message and answers none until it is stopped."""
    return FakeService(lambda _request: Reply(200, "ok", held=True))


def engine_on(tmp_path: Path, slack: FakeService, grace: float) -> Engine:
    return Engine(
        tmp_path,
        stream=STREAM,
        live_extra=f", stop_grace_seconds: {grace}",
        extra=ROUTE,
        env={"SLACK_HOOK": slack.url + "/services/T0/B0/hook"},
    )


def pending_in_outbox(tmp_path: Path) -> int:
    """Notifications for Slack in the outbox, read beside a running engine without writing."""
    path = tmp_path / "state" / "delivery.sqlite"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=PATIENCE)) as db:
        (count,) = db.execute("SELECT count(*) FROM outbox WHERE receiver = 'security'").fetchone()
    return count


@pytest.fixture
def engines():
    started: list[Engine] = []
    yield started
    for engine in started:
        if engine.proc is not None and engine.proc.poll() is None:
            engine.proc.kill()


def test_a_stop_ends_within_its_grace_keeps_the_alert_and_a_second_signal_ends_it_at_once(
    tmp_path: Path, engines: list[Engine]
):
    slack = hanging_slack()
    first = engine_on(tmp_path, slack, grace=2)
    engines.append(first)
    first.start()
    client = Client(first.otlp, "laptop-1", "kai")
    try:
        client.shell(f"AWS_ACCESS_KEY_ID={SECRET} aws s3 ls")
    finally:
        client.close()
    slack.wait_for(1, timeout=PATIENCE)  # the send is under way, and will hang
    assert first.stop() == 0  # within the grace, not after Slack's answer or the send's timeout
    log = first.log.read_text()
    assert "stop: SIGTERM received; stopping within 2 s" in log
    assert "delivery: 1 notifications stay in the outbox for the next start" in log
    assert pending_in_outbox(tmp_path) == 1
    slack.stop()

    # Started again with Slack still hanging, and a grace far longer than anyone waits:
    # the second SIGTERM ends the stop at once, and the alert is still in the outbox.
    slack = hanging_slack()
    second = engine_on(tmp_path, slack, grace=3600)
    engines.append(second)
    second.start()
    slack.wait_for(1, timeout=PATIENCE)
    assert second.proc is not None
    earlier = len(second.log.read_text())  # the first run's lines are in the same file
    second.proc.send_signal(signal.SIGTERM)
    wait_until(lambda: "stop: waiting for delivery" in second.log.read_text()[earlier:], "the stop")
    second.proc.send_signal(signal.SIGTERM)
    try:
        assert second.proc.wait(timeout=PATIENCE) == -signal.SIGTERM
    except subprocess.TimeoutExpired:
        raise AssertionError("a second SIGTERM did not end the engine") from None
    slack.stop()
    assert pending_in_outbox(tmp_path) == 1

    slack = FakeService(slack_webhook_responder)
    third = engine_on(tmp_path, slack, grace=20)
    engines.append(third)
    third.start()
    (message,) = slack.wait_for(1, timeout=PATIENCE)
    text = message.body.decode()
    assert "credential-in-command" in text or "Credential in a command" in text
    assert SECRET not in text
    wait_until(lambda: pending_in_outbox(tmp_path) == 0, "the outbox to empty")
    assert third.stop() == 0
    assert len(slack.requests) == 1  # sent once after the restarts, not once per start
    slack.stop()
