"""The OTLP receivers under hostile input, many examples (the receivers alone, on loopback):
every answer is one OTLP defines, never a server error, and what they take is fit for state.
`tests/engine/test_live_fuzz.py` sends fewer of the same to the whole engine."""

from __future__ import annotations

import gzip

import grpc
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.otlp.event_checks import TimeBounds, event_problem
from tests.engine.otlp_fuzz import (
    broken,
    logs_json,
    mutated,
    proto_trace_request,
    to_json,
    trace_json,
    valid_trace_request,
)

from .receivers import TOKEN, receivers

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
AUTH = {"authorization": f"Bearer {TOKEN}"}
VALID = valid_trace_request()
ANY_FUTURE = TimeBounds(max_future=float("inf"))  # the receivers bound it; here, any


@pytest.fixture(scope="module")
def r():
    with receivers("bearer", TOKEN, max_body=256 * 1024) as rec:
        yield rec


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=10) as c:
        yield c


def taken_are_fit(r) -> None:
    for event in r.ingested():
        assert event_problem(event, ANY_FUTURE, 0.0) is None, event


@FUZZ
@given(
    path=st.sampled_from(["/v1/traces", "/v1/logs"]),
    body=st.one_of(
        st.binary(max_size=3000),
        mutated(VALID),
        proto_trace_request(),
        st.one_of(trace_json, broken(trace_json), logs_json, broken(logs_json)).map(to_json),
    ),
    ctype=st.sampled_from(["application/x-protobuf", "application/json", "text/plain"]),
    gzipped=st.booleans(),
)
def test_http_answers_within_the_spec(r, client, path, body, ctype, gzipped):
    headers = {"content-type": ctype, **AUTH}
    if gzipped:
        body = gzip.compress(body)
        headers["content-encoding"] = "gzip"
    answer = client.post(f"{r.http}{path}", content=body, headers=headers)
    assert answer.status_code in {200, 400, 413, 415, 429}, (answer.status_code, answer.text)
    if answer.status_code != 200:
        assert answer.json()["message"]
    taken_are_fit(r)


@FUZZ
@given(
    service=st.sampled_from(
        [
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        ]
    ),
    payload=st.one_of(st.binary(max_size=3000), mutated(VALID), proto_trace_request()),
    compressed=st.booleans(),
)
def test_grpc_answers_within_the_spec(r, service, payload, compressed):
    with grpc.insecure_channel(r.grpc) as channel:
        try:
            channel.unary_unary(service)(
                payload,
                metadata=list(AUTH.items()),
                timeout=10,
                compression=grpc.Compression.Gzip if compressed else None,
            )
        except grpc.RpcError as exc:
            assert exc.code() in {
                grpc.StatusCode.INVALID_ARGUMENT,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
            }, (exc.code(), exc.details())
            assert exc.details()
    taken_are_fit(r)
