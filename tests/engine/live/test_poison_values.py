"""Values that would poison state are refused at the receivers, and nothing good is lost.

Spans are made by the OpenTelemetry SDK and encoded by its own OTLP encoder; the values no
protobuf can carry (integers of hundreds of digits) are written into the OTLP/JSON form.
"""

from __future__ import annotations

import json
import math
import time

import grpc
import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from engine.otlp.event_checks import TimeBounds

from .receivers import TOKEN, Receivers, receivers

AUTH = {"authorization": f"Bearer {TOKEN}"}
JSON_HEADERS = {"content-type": "application/json", **AUTH}
PROTO_HEADERS = {"content-type": "application/x-protobuf", **AUTH}
NS = 1_000_000_000


def span(
    name: str = "claude.invoke",
    attrs: dict | None = None,
    *,
    user: str = "eve",
    end_ns: int | None = None,
) -> ReadableSpan:
    """One finished span from the SDK (ending now, or at `end_ns`)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"user": user, "team": "payments"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    end = end_ns if end_ns is not None else time.time_ns()
    start = min(end, time.time_ns()) - NS
    s = provider.get_tracer("wrapper").start_span(name, start_time=start)
    for key, value in (attrs or {}).items():
        s.set_attribute(key, value)
    s.end(end_time=end)
    provider.shutdown()
    (finished,) = memory.get_finished_spans()
    return finished


def as_json(spans: list[ReadableSpan]) -> dict:
    return json_format.MessageToDict(encode_spans(spans))


def json_spans(body: dict) -> list[dict]:
    return [s for rs in body["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


def with_huge_tokens(digits: int) -> dict:
    """A claude.invoke span whose tokens_in is an intValue of `digits` digits."""
    body = as_json([span(attrs={"model": "m", "tokens_in": 1})])
    for attr in json_spans(body)[0]["attributes"]:
        if attr["key"] == "tokens_in":
            attr["value"] = {"intValue": "9" * digits}
    return body


@pytest.fixture
def r():
    with receivers("bearer", TOKEN) as rec:
        yield rec


def post_json(r: Receivers, body: dict, path: str = "/v1/traces") -> httpx.Response:
    return httpx.post(f"{r.http}{path}", content=json.dumps(body), headers=JSON_HEADERS)


def test_an_integer_of_310_digits_is_refused_with_the_reason_and_never_taken(r):
    answer = post_json(r, with_huge_tokens(310))
    assert answer.status_code == 400
    message = answer.json()["message"]
    assert "tokens_in" in message and "310 digits" in message and "64-bit" in message
    assert r.ingested() == []


def test_a_timestamp_of_400_digits_is_a_400_with_the_reason(r):
    body = as_json([span(name="shell.run")])
    json_spans(body)[0]["endTimeUnixNano"] = "9" * 400
    answer = post_json(r, body)
    assert answer.status_code == 400
    assert "time" in answer.json()["message"]
    assert r.ingested() == []


def test_good_spans_are_taken_and_poisoned_ones_reported_as_partial_success_json(r):
    body = as_json(
        [
            span(user="good-1"),
            span(name="shell.run", user="far-future", end_ns=2**64 - 1),
            span(user="good-2"),
        ]
    )
    body["resourceSpans"].extend(with_huge_tokens(310)["resourceSpans"])
    answer = post_json(r, body)
    assert answer.status_code == 200
    partial = answer.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 2
    assert "2 of 4 spans refused" in partial["errorMessage"]
    assert "2554" in partial["errorMessage"] and "tokens_in" in partial["errorMessage"]
    assert sorted(e["user"] for e in r.ingested()) == ["good-1", "good-2"]


def test_non_finite_doubles_and_old_times_are_refused_over_protobuf(r):
    spans = [
        span(user="good"),
        span(user="nan", attrs={"cost_estimate": math.nan}),
        span(user="inf", attrs={"latency_ms": math.inf}),
        span(user="epoch", end_ns=5 * NS),  # 1970
    ]
    answer = httpx.post(
        f"{r.http}/v1/traces",
        content=encode_spans(spans).SerializeToString(),
        headers=PROTO_HEADERS,
    )
    assert answer.status_code == 200
    response = ExportTraceServiceResponse.FromString(answer.content)
    assert response.partial_success.rejected_spans == 3
    message = response.partial_success.error_message
    assert "cost_estimate is nan" in message and "latency_ms is inf" in message
    assert "before 2000-01-01" in message
    assert [e["user"] for e in r.ingested()] == ["good"]


def test_a_fully_good_request_has_no_partial_success(r):
    answer = httpx.post(
        f"{r.http}/v1/traces",
        content=encode_spans([span()]).SerializeToString(),
        headers=PROTO_HEADERS,
    )
    assert answer.status_code == 200
    assert not ExportTraceServiceResponse.FromString(answer.content).HasField("partial_success")
    assert post_json(r, as_json([span()])).json() == {}


def test_the_sdk_exporters_succeed_with_the_good_part_and_fail_when_nothing_is_good(r):
    http = HttpSpanExporter(endpoint=f"{r.http}/v1/traces", headers=AUTH, timeout=5)
    over_grpc = GrpcSpanExporter(endpoint=r.grpc, insecure=True, headers=AUTH, timeout=5)
    try:
        mixed = [span(user="sdk-good"), span(user="sdk-bad", end_ns=2**64 - 1)]
        assert http.export(mixed) is SpanExportResult.SUCCESS
        assert over_grpc.export(mixed) is SpanExportResult.SUCCESS
        assert [e["user"] for e in r.ingested()] == ["sdk-good", "sdk-good"]
        bad = [span(user="sdk-bad", end_ns=2**64 - 1)]
        assert http.export(bad) is SpanExportResult.FAILURE
        assert over_grpc.export(bad) is SpanExportResult.FAILURE
        assert r.ingested() == []
    finally:
        http.shutdown()
        over_grpc.shutdown()


def test_grpc_answers_partial_success_and_invalid_argument_with_the_reason(r):
    with grpc.insecure_channel(r.grpc) as channel:
        stub = TraceServiceStub(channel)
        metadata = list(AUTH.items())
        mixed = encode_spans([span(user="ok"), span(user="nan", attrs={"cost_estimate": math.nan})])
        response = stub.Export(mixed, metadata=metadata, timeout=5)
        assert response.partial_success.rejected_spans == 1
        assert "cost_estimate is nan" in response.partial_success.error_message
        with pytest.raises(grpc.RpcError) as refused:
            stub.Export(encode_spans([span(end_ns=2**64 - 1)]), metadata=metadata, timeout=5)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "1 of 1 spans refused" in refused.value.details()
    assert [e["user"] for e in r.ingested()] == ["ok"]


def test_times_ahead_of_the_clock_are_refused_beyond_the_configured_skew():
    with receivers("bearer", TOKEN, bounds=TimeBounds(max_future=60)) as r:
        now = time.time_ns()
        body = as_json(
            [
                span(user="30s-ahead", end_ns=now + 30 * NS),
                span(user="120s-ahead", end_ns=now + 120 * NS),
            ]
        )
        answer = post_json(r, body)
        assert answer.status_code == 200
        assert int(answer.json()["partialSuccess"]["rejectedSpans"]) == 1
        assert [e["user"] for e in r.ingested()] == ["30s-ahead"]


def test_the_default_skew_is_five_minutes(r):
    now = time.time_ns()
    body = as_json(
        [span(user="4m-ahead", end_ns=now + 240 * NS), span(user="6m-ahead", end_ns=now + 360 * NS)]
    )
    assert int(post_json(r, body).json()["partialSuccess"]["rejectedSpans"]) == 1
    assert [e["user"] for e in r.ingested()] == ["4m-ahead"]


def log_record(user: str, cost: dict, t_ns: int) -> dict:
    return {
        "timeUnixNano": str(t_ns),
        "body": {"stringValue": "claude_code.api_request"},
        "attributes": [
            {"key": "user.email", "value": {"stringValue": user}},
            {"key": "cost_usd", "value": cost},
        ],
    }


def test_log_records_with_poison_are_rejected_by_count(r):
    now = time.time_ns()
    body = {
        "resourceLogs": [
            {
                "scopeLogs": [
                    {
                        "logRecords": [
                            log_record("a@x.io", {"doubleValue": 0.5}, now),
                            log_record("b@x.io", {"doubleValue": "NaN"}, now),
                            log_record("c@x.io", {"doubleValue": "-Infinity"}, now),
                            log_record("d@x.io", {"intValue": "-" + "9" * 40}, now),
                        ]
                    }
                ]
            }
        ]
    }
    answer = post_json(r, body, "/v1/logs")
    assert answer.status_code == 200
    partial = answer.json()["partialSuccess"]
    assert int(partial["rejectedLogRecords"]) == 3
    assert "3 of 4 log records refused" in partial["errorMessage"]
    assert [e["user"] for e in r.ingested()] == ["a@x.io"]
