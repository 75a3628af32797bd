"""OTLP/HTTP receiver (`/v1/traces`, `/v1/logs`), protobuf or JSON, gzip or not.

Follows the OTLP/HTTP specification's answers: 200 with an empty Export*ServiceResponse
on success, 400 with the reason for a malformed request (not retryable), 413 for a body
over the limit, 415 for an unknown content type, and 429 with `Retry-After` when the
engine's inbox is full (exporters retry). Before any of that, the ingest gate: 401 with
`WWW-Authenticate: Bearer` for a missing or wrong token, 503 while ingest is disabled;
the body of a refused request is never read.
"""

from __future__ import annotations

import gzip
import zlib

import orjson
from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.aliases import AliasTable
from engine.events import NotOtlpError
from engine.live.inbox import Inbox
from engine.live.ingest_auth import IngestGate
from engine.live.senders import senders_of
from engine.otlp_json import decode_logs, decode_traces
from engine.otlp_proto import decode_logs_bytes, decode_trace_bytes

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _body(raw: bytes, encoding: str, limit: int) -> bytes:
    if len(raw) > limit:
        raise BadRequest(413, f"request body over {limit} bytes")
    if encoding in ("", "identity"):
        return raw
    if encoding != "gzip":
        raise BadRequest(415, f"unsupported Content-Encoding {encoding!r}")
    try:
        stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = stream.decompress(raw, limit + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise BadRequest(400, f"invalid gzip body: {exc}") from None
    if len(data) > limit:
        raise BadRequest(413, f"decompressed body over {limit} bytes")
    return data


def make_otlp_app(
    inbox: Inbox,
    aliases: AliasTable,
    *,
    gate: IngestGate,
    max_body: int = 16 << 20,
    retry_after: int = 5,
) -> Starlette:
    async def export(request: Request, signal: str) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        refusal = gate.check(request.headers.get("authorization", "").encode("latin-1"))
        if refusal is not None:
            if refusal.kind == "disabled":
                return _error(503, refusal.reason, ctype)
            return _error(401, refusal.reason, ctype, www_authenticate="Bearer")
        try:
            body = _body(
                await request.body(),
                request.headers.get("content-encoding", "").strip().lower(),
                max_body,
            )
            events = _decode(signal, ctype, body, aliases)
        except BadRequest as exc:
            return _error(exc.status, exc.reason, ctype)
        client = request.client
        connection = f"{client.host}:{client.port}" if client else "unknown"
        if events and not inbox.offer_events(events, senders_of(events, connection)):
            return _error(429, "spanwatch is overloaded; retry later", ctype, retry_after)
        response = (
            ExportTraceServiceResponse() if signal == "traces" else ExportLogsServiceResponse()
        )
        if ctype == JSON:
            return JSONResponse({})
        return Response(response.SerializeToString(), media_type=PROTOBUF)

    async def traces(request: Request) -> Response:
        return await export(request, "traces")

    async def logs(request: Request) -> Response:
        return await export(request, "logs")

    return Starlette(
        routes=[
            Route("/v1/traces", traces, methods=["POST"]),
            Route("/v1/logs", logs, methods=["POST"]),
        ]
    )


def _decode(signal: str, ctype: str, body: bytes, aliases: AliasTable) -> list[dict]:
    try:
        if ctype == PROTOBUF:
            decode = decode_trace_bytes if signal == "traces" else decode_logs_bytes
            return decode(body, aliases)
        if ctype == JSON:
            obj = orjson.loads(body)
            if not isinstance(obj, dict):
                raise NotOtlpError("expected a JSON object")
            decode_json = decode_traces if signal == "traces" else decode_logs
            key = "resourceSpans" if signal == "traces" else "resourceLogs"
            obj.setdefault(key, [])
            return decode_json(obj, aliases)
    except ProtobufDecodeError as exc:
        raise BadRequest(400, f"invalid protobuf: {exc}") from None
    except orjson.JSONDecodeError as exc:
        raise BadRequest(400, f"invalid JSON: {exc}") from None
    except (NotOtlpError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise BadRequest(400, f"not an OTLP {signal} request: {exc}") from None
    raise BadRequest(415, f"unsupported Content-Type {ctype!r}; use {PROTOBUF} or {JSON}")


def _error(
    status: int,
    reason: str,
    ctype: str,
    retry_after: int | None = None,
    *,
    www_authenticate: str | None = None,
) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if www_authenticate is not None:
        headers["WWW-Authenticate"] = www_authenticate
    # google.rpc.Status in JSON form; protobuf clients log the text either way
    return JSONResponse({"code": status, "message": reason}, status_code=status, headers=headers)
