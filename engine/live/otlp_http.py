"""OTLP/HTTP receiver (`/v1/traces`, `/v1/logs`), protobuf or JSON, gzip or not.

Follows the OTLP/HTTP specification's answers: 200 with an empty Export*ServiceResponse
once the events are in the intake log on disk (`engine.live.intake`), 400 with the reason for a
malformed request (not retryable), 413 for a body over the limit (from Content-Length, while
streaming, or after decompression) or a request larger than the whole inbox, 415 for an
unknown content type, 429 with `Retry-After` when the engine's inbox is full, and 503 with
`Retry-After` when the state directory's disk is full or the engine is stopping (exporters
retry both). Events with values that must not enter
state (`engine.otlp.event_checks`) are refused one by one and counted against their sender: when
others in the request are good, those are taken and the answer is 200 with OTLP's
`partial_success` (how many were rejected and why); when none is good, 400 with the reason.
Before any of that, the ingest gate: 401 with `WWW-Authenticate: Bearer` for a missing or
wrong token, 503 while ingest is disabled; the body of a refused request is never read.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.live.body import RequestRefused, decompress, read_body
from engine.live.inbox import estimate_bytes
from engine.live.ingest_auth import IngestGate
from engine.live.intake import Intake, Refused
from engine.live.senders import senders_of
from engine.live.wal import QueuedFrame
from engine.metrics.meters import IngestMeter
from engine.otlp.aliases import AliasTable
from engine.otlp.event_checks import TimeBounds, split, summary
from engine.otlp.json_decoder import decode_logs, decode_traces
from engine.otlp.normalised_event import NotOtlpError
from engine.otlp.proto_decoder import decode_logs_bytes, decode_trace_bytes

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
WHAT = {"traces": "spans", "logs": "log records"}
RECEIVER = "otlp_http"


def export_response(
    signal: str, rejected: int = 0, message: str = ""
) -> ExportTraceServiceResponse | ExportLogsServiceResponse:
    """Export*ServiceResponse; `partial_success` set only when something was rejected."""
    if signal == "traces":
        traces = ExportTraceServiceResponse()
        if rejected:
            traces.partial_success.rejected_spans = rejected
            traces.partial_success.error_message = message
        return traces
    response = ExportLogsServiceResponse()
    if rejected:
        response.partial_success.rejected_log_records = rejected
        response.partial_success.error_message = message
    return response


async def durable(pending: QueuedFrame) -> None:
    """Until the intake log has `pending` on disk; its OSError when the write failed."""
    loop = asyncio.get_running_loop()
    settled = loop.create_future()

    def settle() -> None:
        if not settled.done():
            settled.set_result(None)

    def wake(_: QueuedFrame) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: the server is stopping
            loop.call_soon_threadsafe(settle)

    pending.on_done(wake)
    await settled
    if pending.error is not None:
        raise pending.error


def refusal_status(refused: Refused) -> int:
    return 429 if refused.kind == "full" else 503


def make_otlp_app(
    intake: Intake,
    aliases: AliasTable,
    *,
    gate: IngestGate,
    max_body: int = 16 << 20,
    retry_after: int = 5,
    bounds: TimeBounds | None = None,
    clock: Callable[[], float] = time.time,
    meter: IngestMeter | None = None,
) -> Starlette:
    receiver = _Receiver(
        intake,
        aliases,
        gate,
        max_body,
        retry_after,
        bounds if bounds is not None else TimeBounds(),
        clock,
        meter,
    )
    return Starlette(
        routes=[
            Route("/v1/traces", receiver.traces, methods=["POST"]),
            Route("/v1/logs", receiver.logs, methods=["POST"]),
        ]
    )


@dataclass(frozen=True)
class _Receiver:
    """One export request's path: the gate, the body, the checks, the intake log, the answer."""

    intake: Intake
    aliases: AliasTable
    gate: IngestGate
    max_body: int
    retry_after: int
    bounds: TimeBounds
    clock: Callable[[], float]
    meter: IngestMeter | None

    async def traces(self, request: Request) -> Response:
        return await self.counted(request, "traces")

    async def logs(self, request: Request) -> Response:
        return await self.counted(request, "logs")

    async def counted(self, request: Request, signal: str) -> Response:
        response = await self.export(request, signal)
        if self.meter is not None:
            self.meter.request(RECEIVER, signal, response.status_code)
        return response

    def count(self, outcome: str, events: int) -> None:
        if self.meter is not None:
            self.meter.count(RECEIVER, outcome, events)

    async def export(self, request: Request, signal: str) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        denied = self.gate_refusal(request, ctype)
        if denied is not None:
            return denied
        try:
            body, decoded = await self.read(request, signal, ctype)
        except RequestRefused as exc:
            return _error(exc.status, exc.reason, ctype)
        client = request.client
        connection = f"{client.host}:{client.port}" if client else "unknown"
        events, refused = split(decoded, self.bounds, self.clock())
        if refused:
            senders = senders_of((event for event, _ in refused), connection)
            self.intake.inbox.count_refused(senders)
            self.count("bad", len(refused))
        reasons = [reason for _, reason in refused]
        if refused and not events:
            return _error(400, summary(reasons, len(decoded), WHAT[signal]), ctype)
        if events:
            nbytes = estimate_bytes(events, len(body) * len(events) // len(decoded))
            failed = await self.store(events, nbytes, connection, signal, ctype)
            if failed is not None:
                return failed
        message = summary(reasons, len(decoded), WHAT[signal]) if refused else ""
        return _success(signal, ctype, len(refused), message)

    def gate_refusal(self, request: Request, ctype: str) -> Response | None:
        """401 for a missing or wrong ingest token, 503 while ingest is disabled."""
        refusal = self.gate.check(request.headers.get("authorization", "").encode("latin-1"))
        if refusal is None:
            return None
        if refusal.kind == "disabled":
            return _error(503, refusal.reason, ctype)
        return _error(401, refusal.reason, ctype, www_authenticate="Bearer")

    async def read(
        self, request: Request, signal: str, ctype: str
    ) -> tuple[bytes, list[dict[str, Any]]]:
        """The body, decompressed, and its events; RequestRefused (400, 413, 415) says why not."""
        if ctype not in (PROTOBUF, JSON):
            raise RequestRefused(
                415, f"unsupported Content-Type {ctype!r}; use {PROTOBUF} or {JSON}"
            )
        raw = await read_body(request, self.max_body)
        encoding = request.headers.get("content-encoding", "").strip().lower()
        body = decompress(raw, encoding, self.max_body)
        return body, _decode(signal, ctype, body, self.aliases)

    async def store(
        self, events: list[dict[str, Any]], nbytes: int, connection: str, signal: str, ctype: str
    ) -> Response | None:
        """None once the events are in the intake log on disk, else the refusal (413, 429, 503)."""
        inbox = self.intake.inbox
        if not inbox.fits(len(events), nbytes):
            reason = (
                f"request of {len(events)} {WHAT[signal]} (~{nbytes} bytes decoded) is "
                f"larger than the whole inbox ({inbox.max_events} events, "
                f"{inbox.max_bytes} bytes): send smaller batches"
            )
            self.count("refused_413", len(events))
            return _error(413, reason, ctype)
        try:
            pending = self.intake.offer_events(events, senders_of(events, connection), nbytes)
            if pending is not None:
                await durable(pending)
        except Refused as exc:
            self.count("refused_429", len(events))
            return _error(refusal_status(exc), exc.reason, ctype, self.retry_after)
        except OSError as exc:
            self.count("refused_503", len(events))
            reason = f"spanwatch could not store the request ({exc.strerror or exc}); retry later"
            return _error(503, reason, ctype, self.retry_after)
        self.count("ok", len(events))
        return None


def _success(signal: str, ctype: str, rejected: int, message: str) -> Response:
    """200 with the Export*ServiceResponse, in the request's encoding."""
    response = export_response(signal, rejected, message)
    if ctype == JSON:
        return JSONResponse(json_format.MessageToDict(response))
    return Response(response.SerializeToString(), media_type=PROTOBUF)


def _decode(signal: str, ctype: str, body: bytes, aliases: AliasTable) -> list[dict[str, Any]]:
    try:
        if ctype == PROTOBUF:
            decode = decode_trace_bytes if signal == "traces" else decode_logs_bytes
            return decode(body, aliases)
        obj = orjson.loads(body)
        if not isinstance(obj, dict):
            raise NotOtlpError("expected a JSON object")
        decode_json = decode_traces if signal == "traces" else decode_logs
        key = "resourceSpans" if signal == "traces" else "resourceLogs"
        obj.setdefault(key, [])
        return decode_json(obj, aliases)
    except ProtobufDecodeError as exc:
        raise RequestRefused(400, f"invalid protobuf: {exc}") from None
    except orjson.JSONDecodeError as exc:
        raise RequestRefused(400, f"invalid JSON: {exc}") from None
    except (NotOtlpError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise RequestRefused(400, f"not an OTLP {signal} request: {exc}") from None
    except (ArithmeticError, RecursionError) as exc:
        raise RequestRefused(400, f"not an OTLP {signal} request: {type(exc).__name__}") from None


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
