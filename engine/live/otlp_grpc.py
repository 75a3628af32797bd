"""OTLP/gRPC receiver (`:4317`): TraceService and LogsService `Export`.

Answers as the OTLP specification asks: INVALID_ARGUMENT with the reason for a request
that does not decode (not retryable), UNAVAILABLE when the engine's inbox is full (the
exporters retry with backoff).
"""

from __future__ import annotations

from concurrent import futures
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from engine.aliases import AliasTable
from engine.live.inbox import Inbox
from engine.otlp_proto import decode_logs_request, decode_trace_request


def _take(inbox: Inbox, events: list[dict[str, Any]], context: grpc.ServicerContext) -> None:
    if events and not inbox.offer_events(events):
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


class GrpcReceiver:
    def __init__(self, inbox: Inbox, aliases: AliasTable, address: str, max_body: int) -> None:
        options = [("grpc.max_receive_message_length", max_body)]
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=options)
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
