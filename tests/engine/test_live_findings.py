"""The live engine drives findings by its own clock: a pull request opened over a failing check
(spans from the OpenTelemetry SDK) is recorded as a finding, no incident opens, and when the
digest period ends the route for findings hears one digest with the count."""

from __future__ import annotations

import json
import time

import orjson
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.engine.test_live_engine import INGEST_AUTH, Engine
from tests.patience import PATIENCE
from tests.webhook_server import WebhookServer

PERIOD = 4  # seconds: the digest interval, short so that the test sees a period end


def send_pr_over_failing_check(port: int, user: str, session: str) -> None:
    provider = TracerProvider(resource=Resource.create({"user": user, "team": "payments"}))
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", headers=INGEST_AUTH)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("wrapper")
    with tracer.start_as_current_span("assertion") as span:
        span.set_attributes({"session.id": session, "assertion.name": "unit",
                             "assertion.passed": False})  # fmt: skip
    time.sleep(0.05)
    with tracer.start_as_current_span("pr.create") as span:
        span.set_attributes({"session.id": session, "pr.base": "main"})
    provider.shutdown()


def log_rows(engine: Engine) -> list[dict]:
    log = engine.config.parent / "state" / "incident-log.jsonl"
    if not log.exists():
        return []
    return [orjson.loads(line) for line in log.read_bytes().splitlines()]


def test_a_live_finding_is_digested_once_per_period_and_never_paged(tmp_path):
    server = WebhookServer()
    extra = (
        "notifiers:\n"
        "  receivers:\n"
        "    - {name: console, type: console}\n"
        f"    - {{name: quality, type: webhook, url: '{server.url('quality')}'}}\n"
        "incidents:\n"
        "  route:\n"
        "    receiver: console\n"
        "    routes: [{matchers: ['produces=\"finding\"'], receiver: quality}]\n"
        f"  findings: {{digest_interval: {PERIOD}s}}\n"
    )
    engine = Engine(tmp_path, extra=extra)
    engine.start()
    try:
        send_pr_over_failing_check(engine.otlp, "ann", "s-1")
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline and not server.calls():
            time.sleep(0.2)
        time.sleep(PERIOD + 2)  # another period passes: nothing new, nothing sent
        calls = server.calls()
        rows = log_rows(engine)
        incidents = engine.incidents()
    finally:
        engine.stop()
        server.server.shutdown()
    assert len(calls) == 1, engine.log.read_text()
    sent = json.loads(calls[0].body)
    assert sent["transition"] == "finding.digest"
    assert "1 findings" in json.dumps(sent)
    recorded = [r["finding"] for r in rows if r["type"] == "finding.recorded"]
    assert [(f["rule_id"], f["group"]) for f in recorded] == [
        ("pr-without-passing-assertion", {"user": "ann", "session": "s-1"})
    ]
    assert [r["digest"]["findings"] for r in rows if r["type"] == "finding.digest"] == [1]
    assert incidents == []
