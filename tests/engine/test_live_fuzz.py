"""Hostile OTLP against `spanwatch run`: random bytes, mutated protobuf, JSON with extreme or
wrongly typed values, over HTTP and gRPC. Every answer is one OTLP defines for a client's
mistake or for back-pressure, never a server error; and afterwards the engine still raises
incidents for good data."""

from __future__ import annotations

import gzip

import grpc
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.otlp_fuzz import (
    broken,
    logs_json,
    mutated,
    proto_trace_request,
    to_json,
    trace_json,
    valid_trace_request,
)
from tests.engine.test_live_engine import INGEST_AUTH, Engine, send_pipe_to_shell

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
HTTP_ANSWERS = {200, 400, 413, 415, 429}
GRPC_ANSWERS = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
VALID = valid_trace_request()


@pytest.fixture
def engine(tmp_path):
    e = Engine(tmp_path)
    e.start()
    yield e
    if e.proc and e.proc.poll() is None:
        e.proc.kill()


def still_detecting(e: Engine, user: str) -> None:
    send_pipe_to_shell(e.otlp, user)
    e.wait_for(lambda i: i["group"].get("user") == user, "an incident after the fuzzing")
    assert e.proc.poll() is None
    log = e.log.read_text()
    assert "Traceback" not in log and "Exception" not in log, log
    assert e.stop() == 0


def test_hostile_otlp_over_http_and_grpc_is_answered_within_the_spec_and_detection_goes_on(
    engine,
):
    fuzz_http(engine)
    fuzz_grpc(engine)
    still_detecting(engine, "after-the-fuzzing")


def fuzz_http(engine: Engine) -> None:
    client = httpx.Client(base_url=f"http://127.0.0.1:{engine.otlp}", timeout=10)

    def post(path: str, body: bytes, ctype: str, gzipped: bool = False) -> None:
        headers = {"content-type": ctype, **INGEST_AUTH}
        if gzipped:
            headers["content-encoding"] = "gzip"
        answer = client.post(path, content=body, headers=headers)
        assert answer.status_code in HTTP_ANSWERS, (answer.status_code, answer.text, body[:200])

    paths = st.sampled_from(["/v1/traces", "/v1/logs"])

    @FUZZ
    @given(path=paths, body=st.binary(max_size=2000), ctype=st.sampled_from([PROTOBUF, JSON]))
    def random_bytes(path, body, ctype):
        post(path, body, ctype)

    @FUZZ
    @given(body=st.one_of(mutated(VALID), proto_trace_request()), gzipped=st.booleans())
    def protobuf(body, gzipped):
        post("/v1/traces", gzip.compress(body) if gzipped else body, PROTOBUF, gzipped)

    @FUZZ
    @given(request=st.one_of(trace_json, broken(trace_json)), gzipped=st.booleans())
    def traces_as_json(request, gzipped):
        body = to_json(request)
        post("/v1/traces", gzip.compress(body) if gzipped else body, JSON, gzipped)

    @FUZZ
    @given(request=st.one_of(logs_json, broken(logs_json)))
    def logs_as_json(request):
        post("/v1/logs", to_json(request), JSON)

    try:
        random_bytes()
        protobuf()
        traces_as_json()
        logs_as_json()
    finally:
        client.close()


def fuzz_grpc(engine: Engine) -> None:
    channel = grpc.insecure_channel(f"127.0.0.1:{engine.grpc}")
    metadata = list(INGEST_AUTH.items())
    methods = {
        "traces": channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        ),
        "logs": channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export"),
    }

    @FUZZ
    @given(
        signal=st.sampled_from(["traces", "logs"]),
        payload=st.one_of(st.binary(max_size=2000), mutated(VALID), proto_trace_request()),
        compressed=st.booleans(),
    )
    def export(signal, payload, compressed):
        compression = grpc.Compression.Gzip if compressed else None
        try:
            methods[signal](payload, metadata=metadata, timeout=10, compression=compression)
            code = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            code = exc.code()
            assert code in GRPC_ANSWERS, (code, exc.details(), payload[:200])
        assert code in GRPC_ANSWERS

    try:
        export()
    finally:
        channel.close()
