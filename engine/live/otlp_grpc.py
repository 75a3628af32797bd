"""OTLP/gRPC receiver (`:4317`): TraceService and LogsService `Export`.

Answers as the OTLP specification asks: INVALID_ARGUMENT with the reason for a request
that does not decode (not retryable), UNAVAILABLE when the engine's inbox is full (the
exporters retry with backoff). Every call passes the ingest gate first, as a server
interceptor: UNAUTHENTICATED for missing or wrong `authorization: Bearer` metadata,
UNAVAILABLE while ingest is disabled; a refused request is never decoded.
"""

from __future__ import annotations

from concurrent import futures
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from engine.aliases import AliasTable
from engine.live.inbox import Inbox
from engine.live.ingest_auth import IngestGate
from engine.live.senders import senders_of
from engine.otlp_proto import decode_logs_request, decode_trace_request


def _take(inbox: Inbox, events: list[dict[str, Any]], context: grpc.ServicerContext) -> None:
    if events and not inbox.offer_events(events, senders_of(events, context.peer())):
        context.abort(grpc.StatusCode.UNAVAILABLE, "spanwatch is overloaded; retry later")


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, inbox: Inbox, aliases: AliasTable) -> None:
        self.inbox, self.aliases = inbox, aliases

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            events = decode_trace_request(request, self.aliases)
        except (ValueError, TypeError, KeyError) as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"not an OTLP traces request: {exc}")
        _take(self.inbox, events, context)
        return trace_service_pb2.ExportTraceServiceResponse()


class _Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, inbox: Inbox, aliases: AliasTable) -> None:
        self.inbox, self.aliases = inbox, aliases

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            events = decode_logs_request(request, self.aliases)
        except (ValueError, TypeError, KeyError) as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"not an OTLP logs request: {exc}")
        _take(self.inbox, events, context)
        return logs_service_pb2.ExportLogsServiceResponse()


class _GateInterceptor(grpc.ServerInterceptor):
    """Refuses a call before its request is decoded, as the Collector's auth extensions do."""

    def __init__(self, gate: IngestGate) -> None:
        self.gate = gate

    def intercept_service(
        self, continuation: Any, handler_call_details: grpc.HandlerCallDetails
    ) -> Any:
        metadata = handler_call_details.invocation_metadata or ()
        authorization = next(
            (value for key, value in metadata if key.lower() == "authorization"), None
        )
        refusal = self.gate.check(authorization if isinstance(authorization, str) else None)
        if refusal is None:
            return continuation(handler_call_details)
        code = (
            grpc.StatusCode.UNAVAILABLE
            if refusal.kind == "disabled"
            else grpc.StatusCode.UNAUTHENTICATED
        )

        def refuse(_request: bytes, context: grpc.ServicerContext) -> None:
            context.abort(code, refusal.reason)

        # no deserializer: the request stays opaque bytes and is never decoded
        return grpc.unary_unary_rpc_method_handler(refuse)


class GrpcReceiver:
    def __init__(
        self, inbox: Inbox, aliases: AliasTable, address: str, max_body: int, *, gate: IngestGate
    ) -> None:
        options = [("grpc.max_receive_message_length", max_body)]
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4),
            interceptors=[_GateInterceptor(gate)],
            options=options,
        )
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
            _Traces(inbox, aliases), self.server
        )
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Logs(inbox, aliases), self.server)
        self.port = self.server.add_insecure_port(address)
        if self.port == 0:
            raise OSError(f"cannot listen for OTLP/gRPC on {address}")
        self.address = f"{address.rpartition(':')[0]}:{self.port}"

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop(grace=2).wait(5)
