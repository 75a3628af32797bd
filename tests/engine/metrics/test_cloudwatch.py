"""Usage rollups put into CloudWatch, read back from moto's server with CloudWatch's own API."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import boto3

from detectors.usage import UsageRollup
from engine.metrics.cloudwatch import CloudWatchPublisher, minute_data
from engine.metrics.config import CloudWatchConfig
from engine.metrics.usage_families import Usage
from tests.patience import PATIENCE
from tests.replay.moto_s3 import free_port, moto_server

T0 = 1_764_547_200.0 + 3 * 3600 + 17  # 2025-12-01T03:00:17Z, mid-minute


def client(url: str):
    return boto3.client(
        "cloudwatch",
        region_name="eu-central-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def feed(usage: Usage) -> None:
    for i in range(12):
        usage.observe(
            {
                "time": T0 + 25 * i,  # spreads over several minutes
                "name": "claude.invoke",
                "team": "payments" if i % 3 else "search",
                "repo": "billing",
                "workflow": "review",
                "user": f"u{i % 6}",  # search: u0, u3; payments: four others
                "tokens_in": 100,
                "cost": 0.5,
                "latency_ms": 1200.0 + i,
                "cache_hit": i % 2 == 0,
                "status": "error" if i == 5 else "ok",
            },
            ["unapproved-model"] if i == 0 else [],
        )


def statistic(
    cw, name: str, stat: str = "Sum", namespace: str = "Spanwatch-Test", hours: int = 0, **dims
):
    """`stat` of `name` around T0 (or over the last `hours`)."""
    around = datetime.now(UTC) if hours else datetime.fromtimestamp(T0, UTC)
    response = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=around - timedelta(hours=hours or 1),
        EndTime=around + timedelta(hours=1),
        Period=3600 * 24 * 2 if hours else 3600,
        Statistics=[stat],
    )
    return sum(point[stat] for point in response["Datapoints"])


def test_minutes_reach_cloudwatch_and_add_up():
    with moto_server() as url:
        config = CloudWatchConfig(namespace="Spanwatch-Test", endpoint_url=url)
        usage = Usage(UsageRollup(minutes=True))
        feed(usage)
        publisher = CloudWatchPublisher(config, usage, client=client(url))
        assert publisher.publish() > 0
        cw = client(url)
        # (moto ignores an empty dimension set when filtering: ask for exact ones)
        for team, calls in (("payments", 8), ("search", 4)):
            scope = {"Team": team, "Repo": "billing", "Workflow": "review"}
            assert statistic(cw, "Calls", **scope) == calls
            assert statistic(cw, "TokensIn", **scope) == 100 * calls
            assert statistic(cw, "CostUSD", **scope) == 0.5 * calls
        scope = {"Team": "payments", "Repo": "billing", "Workflow": "review"}
        assert statistic(cw, "Errors", **scope) == 1
        assert statistic(cw, "CacheHits", **scope) == 4
        assert statistic(cw, "CacheLookups", **scope) == 8
        assert statistic(cw, "PolicyHits", Team="search", Repo="billing", Workflow="review") == 1
        assert statistic(cw, "Calls", Model="unknown", Region="unknown") == 12
        assert statistic(cw, "LatencyMs", "SampleCount", **scope) == 8
        assert statistic(cw, "ActiveUsers1d", "Maximum", Team="payments") == 4
        assert statistic(cw, "ActiveUsers7d", "Maximum", Team="search") == 2
        names = {m["MetricName"] for m in cw.list_metrics(Namespace="Spanwatch-Test")["Metrics"]}
        assert {"Calls", "LatencyMs", "CostUSD", "ActiveUsers7d"} <= names
        # nothing new gathered: only the active-user gauges go again
        assert publisher.publish() == 2 + 2 * 2


def test_the_organisation_wide_points_have_no_dimensions():
    usage = Usage(UsageRollup(minutes=True))
    feed(usage)
    points = [p for minute in usage.drain_minutes() for p in minute_data(minute)]
    overall = [p for p in points if p["MetricName"] == "Calls" and not p["Dimensions"]]
    assert len(overall) == 5  # 12 calls 25 s apart from mid-minute: five minutes
    assert sum(p["Value"] for p in overall) == 12
    assert all(p["Timestamp"].second == 0 for p in points)


def test_a_failed_put_keeps_the_points_for_the_next_interval(caplog):
    usage = Usage(UsageRollup(minutes=True))
    feed(usage)
    nowhere = f"http://127.0.0.1:{free_port()}"
    config = CloudWatchConfig(namespace="Spanwatch-Retry", endpoint_url=nowhere)
    failing = client(nowhere)
    failing.meta.config.retries = {"max_attempts": 1}
    publisher = CloudWatchPublisher(config, usage, client=failing)
    assert publisher.publish() == 0
    assert publisher.retained
    assert "put_metric_data failed" in caplog.text and "Traceback" not in caplog.text
    with moto_server() as url:
        publisher.client = client(url)
        assert publisher.publish() > 0
        assert not publisher.retained
        scope = {"Team": "payments", "Repo": "billing", "Workflow": "review"}
        assert statistic(client(url), "Calls", namespace="Spanwatch-Retry", **scope) == 8


def test_the_live_engine_puts_its_usage_into_cloudwatch(tmp_path):
    import httpx
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from tests.engine.test_live_engine import INGEST_AUTH, Engine

    with moto_server() as url:
        extra = (
            "metrics: {cloudwatch: {namespace: Spanwatch-Live, region: eu-central-1, "
            f'endpoint_url: "{url}", interval_seconds: 1}}}}\n'
        )
        env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        engine = Engine(tmp_path, extra=extra, env=env)
        engine.start()
        try:
            provider = TracerProvider(resource=Resource.create({"team": "risk"}))
            provider.add_span_processor(
                SimpleSpanProcessor(
                    OTLPSpanExporter(
                        endpoint=f"http://127.0.0.1:{engine.otlp}/v1/traces", headers=INGEST_AUTH
                    )
                )
            )
            tracer = provider.get_tracer("wrapper")
            for i in range(5):
                with tracer.start_as_current_span("claude.invoke") as span:
                    span.set_attribute("user", f"q{i % 2}")
                    span.set_attribute("repo", "models")
                    span.set_attribute("tokens_in", 10)
            provider.shutdown()
            cw = client(url)
            scope = {"Team": "risk", "Repo": "models", "Workflow": "unknown"}
            deadline = time.monotonic() + PATIENCE
            calls = 0.0
            while time.monotonic() < deadline:
                calls = statistic(cw, "Calls", namespace="Spanwatch-Live", **scope, hours=48)
                if calls >= 5:
                    break
                time.sleep(0.5)
            assert calls == 5
            assert statistic(cw, "Tokens", namespace="Spanwatch-Live", Team="risk", hours=48) == 50
            assert httpx.get(f"{engine.base}/healthz", timeout=5).status_code == 200
            assert engine.stop() == 0
        finally:
            if engine.proc and engine.proc.poll() is None:
                engine.proc.kill()
