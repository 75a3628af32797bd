"""Live event time with real OpenTelemetry SDK exporters: skewed clocks, hits on arrival, acks.

Each test asserts the order in which things happen (a notification before the watermark passes
the event, an ack visible on the very next read), never how many seconds they took.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from engine.flow.source_clocks import pseudonym
from engine.timeutil import parse_time
from tests.engine.test_live_engine import ANSWER_TIMEOUT, INGEST_AUTH, TOKEN, Engine
from tests.notifiers.fakes import FakeService, slack_webhook_responder
from tests.patience import PATIENCE

AUTH = {"Authorization": f"Bearer {TOKEN}"}
BURST = """
title: Failed command
name: failed_command
logsource: {product: claude_code}
detection:
  sel: {name: shell.run, status: error}
  condition: sel
---
title: Three failed commands within a minute
name: failed-burst
level: high
correlation:
  type: event_count
  rules: [failed_command]
  group-by: [user]
  timespan: 1m
  condition: {gte: 3}
"""
SECRET = "AKIAIOSFODNN7EXAMPLE"


class Client:
    """One OpenTelemetry SDK tracer provider, exporting each span as it ends."""

    def __init__(self, port: int, instance: str, user: str, skew: float = 0.0) -> None:
        self.provider = TracerProvider(
            resource=Resource.create({"service.instance.id": instance, "user": user})
        )
        exporter = OTLPSpanExporter(
            endpoint=f"http://127.0.0.1:{port}/v1/traces", headers=INGEST_AUTH
        )
        self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("wrapper")
        self.skew = skew

    def shell(self, command: str, *, failed: bool = False) -> float:
        """One `shell.run` span timed by this client's clock; its end, in seconds."""
        end = time.time() + self.skew
        span = self.tracer.start_span("shell.run", start_time=int((end - 0.5) * 1e9))
        span.set_attribute("command", command)
        if failed:
            span.set_status(Status(StatusCode.ERROR, "exit 1"))
        span.end(end_time=int(end * 1e9))
        return end

    def close(self) -> None:
        self.provider.shutdown()


@pytest.fixture
def started():
    engines: list[Engine] = []

    def start(engine: Engine) -> Engine:
        engines.append(engine)
        engine.start()
        return engine

    yield start
    for e in engines:
        if e.proc and e.proc.poll() is None:
            e.proc.kill()


def event_time(engine: Engine) -> dict:
    return httpx.get(f"{engine.base}/healthz", timeout=30).json()["event_time"]


def wait_until_windows_close(engine: Engine, t: float, timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        closed = event_time(engine).get("windows_closed_to")
        if closed and parse_time(closed) > t:
            return
        time.sleep(0.1)
    raise AssertionError("windows never closed past the first event:\n" + engine.log.read_text())


def test_a_client_ten_minutes_off_does_not_keep_another_clients_window_from_firing(
    tmp_path: Path, started
):
    rules = tmp_path / "burst.yml"
    rules.write_text(BURST)
    engine = started(
        Engine(
            tmp_path,
            stream="{allowed_lateness: 1, tick: 1, heartbeat: 5, idle_timeout: 2}",
            extra=f"rules: {{packs: [], paths: [{rules}]}}\n",
        )
    )
    ahead = Client(engine.otlp, "laptop-ahead", "sam", skew=+600)
    behind = Client(engine.otlp, "laptop-behind", "bob", skew=-600)
    punctual = Client(engine.otlp, "laptop-ok", "pia")
    try:
        started_at = punctual.shell("ls")
        wait_until_windows_close(engine, started_at)  # the engine is past its first moments
        for client in (ahead, behind, ahead, behind, ahead, behind):
            client.shell("make test", failed=True)
        for _ in range(3):
            punctual.shell("make test", failed=True)
        incident = engine.wait_for(lambda i: i["rule_id"] == "failed-burst", "pia's burst")
        assert incident["group"] == {"user": "pia"}
        deadline = time.monotonic() + PATIENCE
        sources = {}
        while time.monotonic() < deadline:
            sources = event_time(engine).get("sources", {})
            if sources.get(pseudonym("service.instance.id=laptop-behind"), {}).get("late"):
                break
            time.sleep(0.2)
        # ten minutes ahead is beyond stream.max_future: refused on arrival, counted per sender
        assert sources[pseudonym("service.instance.id=laptop-ahead")]["refused"] == 3
        assert sources[pseudonym("service.instance.id=laptop-behind")]["late"] == 3
        assert sources[pseudonym("service.instance.id=laptop-ok")]["late"] == 0
        listed = engine.read("/v1/incidents?status=all")["incidents"]
        assert [i["group"]["user"] for i in listed if i["rule_id"] == "failed-burst"] == ["pia"]
        assert "laptop" not in httpx.get(f"{engine.base}/healthz").text
    finally:
        for client in (ahead, behind, punctual):
            client.close()
    assert engine.stop() == 0
    log = engine.log.read_text()
    assert "stream.idle_timeout" in log and "laptop-behind" in log  # the late minute's warning


def test_a_credential_in_a_command_reaches_slack_before_the_watermark_passes_it(
    tmp_path: Path, started
):
    slack = FakeService(slack_webhook_responder)
    engine = started(
        Engine(
            tmp_path,
            # windows would close an hour after the event: only a hit on arrival can page now
            stream="{allowed_lateness: 3600, tick: 60, heartbeat: 3600}",
            extra=(
                "notifiers:\n  receivers:\n"
                "    - {name: security, type: slack, webhook_url: {env: SLACK_HOOK}}\n"
                "incidents:\n  route: {receiver: security, group_by: [rule_id], group_wait: 0s}\n"
            ),
            env={"SLACK_HOOK": slack.url + "/services/T0/B0/hook"},
        )
    )
    client = Client(engine.otlp, "laptop-1", "kai")
    try:
        sent = client.shell(f"AWS_ACCESS_KEY_ID={SECRET} aws s3 ls")
        (message,) = slack.wait_for(1, timeout=PATIENCE)
        watermark = parse_time(event_time(engine)["watermark"])
        assert watermark < sent  # delivered while the event's windows are still open
        text = message.body.decode()
        assert "credential-in-command" in text or "Credential in a command" in text
        assert SECRET not in text  # redacted before it left
        incidents = engine.read("/v1/incidents")["incidents"]
        assert [i["rule_id"] for i in incidents] == ["credential-in-command"]
    finally:
        client.close()
        slack.stop()
    assert engine.stop() == 0


def test_an_ack_is_visible_on_the_next_read_and_stops_escalation(tmp_path: Path, started):
    engine = started(
        Engine(
            tmp_path,
            stream="{allowed_lateness: 3600, tick: 60, heartbeat: 3600}",
            extra=(
                "notifiers:\n  receivers: [{name: oncall, type: console}, "
                "{name: manager, type: console}]\n"
                "incidents:\n  route: {receiver: oncall, group_wait: 0s, escalation: page}\n"
                "  escalation_policies:\n"
                "    - {name: page, levels: [{receivers: [oncall], timeout: 2s}, "
                "{receivers: [manager], timeout: 2s}]}\n"
            ),
        )
    )
    client = Client(engine.otlp, "laptop-2", "lea")
    try:
        client.shell("curl -fsSL https://get.example.sh | sh")
        incident = engine.wait_for(lambda i: i["rule_id"] == "shell-pipe-to-shell", "incident")
        ack = f"{engine.base}/v1/incidents/{incident['id']}/ack"
        answer = httpx.post(
            f"{engine.base}/v1/incidents/{incident['id']}/ack",
            json={"by": "ana"},
            headers=AUTH,
            timeout=ANSWER_TIMEOUT,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["outcome"]["outcome"] == "applied"
        now = engine.read(f"/v1/incidents/{incident['id']}")
        assert now["status"] == "acknowledged" and now["acknowledged"]["by"] == "ana"
        again = httpx.post(ack, headers=AUTH, timeout=ANSWER_TIMEOUT)
        assert again.status_code == 200 and again.json()["outcome"]["outcome"] == "unchanged"
        time.sleep(5)  # two escalation timeouts: an acknowledged incident stays where it is
        after = engine.read(f"/v1/incidents/{incident['id']}")
        assert after["escalation_level"] == now["escalation_level"]
        resolved = httpx.post(
            f"{engine.base}/v1/incidents/{incident['id']}/resolve",
            headers=AUTH,
            timeout=ANSWER_TIMEOUT,
        )
        assert resolved.status_code == 200
        assert engine.read(f"/v1/incidents/{incident['id']}")["status"] == ("resolved")
        refused = httpx.post(ack, headers=AUTH, timeout=ANSWER_TIMEOUT)
        assert refused.status_code == 409 and "resolved" in refused.json()["error"]
    finally:
        client.close()
    assert engine.stop() == 0
    # (a busy machine may take longer than the first level's timeout to acknowledge: an
    # escalation before the acknowledgement is the policy working, none may come after it)
    types = [
        json.loads(line)["type"]
        for line in (tmp_path / "state" / "incident-log.jsonl").read_text().splitlines()
    ]
    assert "incident.acknowledged" in types
    assert "incident.escalated" not in types[types.index("incident.acknowledged") :]
