"""Bounded by bytes: every endpoint refuses an oversized body before holding it, compressed
bodies are bounded after decompression, and the inbox by the memory its events hold."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from engine.live.api import make_api_app
from engine.live.inbox import Inbox, estimate_bytes
from engine.live.run import _listen, _Server
from engine.live.views import Views
from notifiers.slack_actions import make_slack_actions_app
from tests.patience import PATIENCE

from .intakes import temporary_intake
from .rawhttp import declare_only, endless_chunks
from .receivers import TOKEN, receivers
from .test_poison_values import span

AUTH = {"authorization": f"Bearer {TOKEN}"}
PROTO = {"content-type": "application/x-protobuf", **AUTH}
LIMIT = 1 << 20
TRACE_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@pytest.fixture
def r():
    with receivers("bearer", TOKEN, max_body=LIMIT) as rec:
        yield rec


def test_a_declared_body_over_the_limit_is_refused_before_a_byte_is_sent(r):
    answer = declare_only(r.http, "/v1/traces", 100 << 20, PROTO)
    assert answer.status == 413 and b"over 1048576 bytes" in answer.body


def test_an_endless_chunked_body_is_refused_while_it_streams(r):
    answer = endless_chunks(r.http, "/v1/traces", PROTO, b"\x0a" * 65536, give_up_after=64 << 20)
    assert answer is not None, "no answer while the body was still streaming"
    assert answer.status == 413
    assert answer.sent < 16 << 20  # answered long before the client gave up


def test_a_gzip_bomb_is_refused_after_decompression(r):
    bomb = gzip.compress(b"\x00" * (20 << 20))
    assert len(bomb) < LIMIT
    answer = httpx.post(
        f"{r.http}/v1/traces", content=bomb, headers={**PROTO, "content-encoding": "gzip"}
    )
    assert answer.status_code == 413 and "decompressed body" in answer.json()["message"]
    assert r.ingested() == []


def request_of(n: int, user: str) -> ExportTraceServiceRequest:
    return encode_spans([span(user=f"{user}-{i}") for i in range(n)])


def test_a_request_larger_than_the_whole_inbox_is_413_and_a_full_inbox_429():
    one_span = estimate_bytes(
        [{"user": "u", "team": "t", "name": "claude.invoke", "time": 1.0, "kind": "span"}]
    )
    with receivers("bearer", TOKEN, inbox=Inbox(max_events=10, max_bytes=10**9)) as r:
        url = f"{r.http}/v1/traces"
        too_many = httpx.post(url, content=request_of(11, "a").SerializeToString(), headers=PROTO)
        assert too_many.status_code == 413 and "larger than the whole inbox" in too_many.text
        assert (
            httpx.post(
                url, content=request_of(6, "b").SerializeToString(), headers=PROTO
            ).status_code
            == 200
        )
        full = httpx.post(url, content=request_of(6, "c").SerializeToString(), headers=PROTO)
        assert full.status_code == 429 and full.headers["retry-after"]
        refused = raw_grpc(r.grpc, request_of(11, "g").SerializeToString())
        assert refused.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "larger than the whole inbox" in refused.details()
        assert r.take() == 6  # taken by the dataflow: the next request fits again
        assert (
            httpx.post(
                url, content=request_of(6, "d").SerializeToString(), headers=PROTO
            ).status_code
            == 200
        )
    with receivers("bearer", TOKEN, inbox=Inbox(max_events=10**6, max_bytes=40 * one_span)) as r:
        url = f"{r.http}/v1/traces"
        big = httpx.post(url, content=request_of(200, "e").SerializeToString(), headers=PROTO)
        assert big.status_code == 413 and "bytes" in big.json()["message"]
        statuses = [
            httpx.post(
                url, content=request_of(5, f"f{i}").SerializeToString(), headers=PROTO
            ).status_code
            for i in range(10)
        ]
        assert statuses[0] == 200 and statuses[-1] == 429


def raw_grpc(address: str, payload: bytes, *, compression=None) -> grpc.RpcError | bytes:
    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary(TRACE_EXPORT)
        try:
            return call(payload, metadata=list(AUTH.items()), timeout=10, compression=compression)
        except grpc.RpcError as exc:
            return exc


@pytest.mark.parametrize(
    "payload",
    [b"\x0a\xff\xff\xff", b"\xff" * 64, b"\x0a\x05\x12\x03\x0a\x01"],
    ids=["truncated-length", "garbage", "nested-truncated"],
)
def test_a_malformed_grpc_message_is_invalid_argument_with_the_reason(r, payload):
    refused = raw_grpc(r.grpc, payload)
    assert isinstance(refused, grpc.RpcError)
    assert refused.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "protobuf" in refused.details()


def test_grpc_bounds_messages_as_sent_and_after_decompression(r):
    big = request_of(1, "x")
    big.resource_spans[0].scope_spans[0].spans[0].name = "n" * (LIMIT + 10)
    payload = big.SerializeToString()
    assert raw_grpc(r.grpc, payload).code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    compressed = raw_grpc(r.grpc, payload, compression=grpc.Compression.Gzip)
    assert compressed.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert r.ingested() == []
    ok = raw_grpc(r.grpc, request_of(2, "y").SerializeToString(), compression=grpc.Compression.Gzip)
    assert isinstance(ok, bytes)
    assert len(r.ingested()) == 2


SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
API_TOKEN = "api-token-93e1"


@contextmanager
def api_server() -> Iterator[str]:
    pressed: list[dict] = []
    slack = make_slack_actions_app(SLACK_SECRET, pressed.append)
    with temporary_intake() as intake:
        app = make_api_app(Views(), intake, token=API_TOKEN, slack_actions=slack)
        server = _Server(app, _listen("127.0.0.1:0"))
        server.start()
        deadline = time.monotonic() + PATIENCE
        while not server.server.started and time.monotonic() < deadline:
            server.thread.join(0.02)
        try:
            yield f"http://{server.address}"
        finally:
            server.stop()
            assert pressed == []


def test_unsigned_100_mb_to_slack_actions_is_refused_before_reading_or_checking_it():
    form = {"content-type": "application/x-www-form-urlencoded"}
    with api_server() as base:
        answer = declare_only(base, "/slack/actions", 100 << 20, form)
        assert answer.status == 413
        streamed = endless_chunks(base, "/slack/actions", form, b"p" * 65536, 100 << 20)
        assert streamed is not None and streamed.status == 413
        assert streamed.sent < 16 << 20


def test_api_write_bodies_are_bounded_too():
    auth = {"authorization": f"Bearer {API_TOKEN}", "content-type": "application/json"}
    with api_server() as base:
        assert declare_only(base, "/v1/silences", 10 << 20, auth).status == 413
        big = httpx.post(f"{base}/v1/silences", content=b" " * (1 << 20), headers=auth)
        assert big.status_code == 413 and "over" in big.json()["error"]
