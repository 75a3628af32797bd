"""OTLP/gRPC receiver (`:4317`): TraceService and LogsService `Export`.

Answers as the OTLP specification asks: OK once the events are in the intake log on disk
(`engine.live.intake`), INVALID_ARGUMENT with the reason for a request that does not decode
(not retryable), RESOURCE_EXHAUSTED for a message over the receive limit or larger than the
whole inbox, UNAVAILABLE when the engine's inbox or the state directory's disk is full, or the
engine is stopping (the exporters retry with backoff). The request arrives as bytes and is parsed here, so that a
malformed message gets INVALID_ARGUMENT rather than the INTERNAL of a failed deserializer.
Events with values that must not enter state (`engine.otlp.event_checks`) are refused one by
one and counted against their sender, as over HTTP: OK with `partial_success` when others
are good, INVALID_ARGUMENT when none is. Every call passes the ingest gate first, as a server
interceptor: UNAUTHENTICATED for missing or wrong `authorization: Bearer` metadata,
UNAVAILABLE while ingest is disabled; a refused request is never decoded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from google.protobuf.message import DecodeError as ProtobufDecodeError

from engine.live.inbox import estimate_bytes
from engine.live.ingest_auth import IngestGate
from engine.live.intake import Intake, Refused
from engine.live.listen import ListenError
from engine.live.otlp_http import WHAT, export_response
from engine.live.senders import senders_of
from engine.metrics.meters import IngestMeter
from engine.otlp.aliases import AliasTable
from engine.otlp.event_checks import TimeBounds, split, summary
from engine.otlp.normalised_event import NotOtlpError
from engine.otlp.proto_decoder import decode_logs_bytes, decode_trace_bytes

Decoder = Callable[[bytes, AliasTable], list[dict[str, Any]]]
SERVICES: dict[str, tuple[str, Decoder]] = {
    "traces": ("opentelemetry.proto.collector.trace.v1.TraceService", decode_trace_bytes),
    "logs": ("opentelemetry.proto.collector.logs.v1.LogsService", decode_logs_bytes),
}
RECEIVER = "otlp_grpc"


class _Export:
    """`Export` of one signal, from the raw request bytes to the response."""

    def __init__(
        self,
        signal: str,
        intake: Intake,
        aliases: AliasTable,
        bounds: TimeBounds,
        clock: Callable[[], float],
        meter: IngestMeter | None = None,
    ) -> None:
        self.signal = signal
        _, self.decode = SERVICES[signal]
        self.intake, self.inbox, self.aliases = intake, intake.inbox, aliases
        self.bounds, self.clock = bounds, clock
        self.meter = meter

    def __call__(self, payload: bytes, context: grpc.ServicerContext) -> Any:
        """The export, with its answer counted (an abort raises out of `_export`)."""
        try:
            response = self._export(payload, context)
        except BaseException:
            if self.meter is not None:
                code = context.code()
                self.meter.request(RECEIVER, self.signal, code.name if code else "UNKNOWN")
            raise
        if self.meter is not None:
            self.meter.request(RECEIVER, self.signal, "OK")
        return response

    def _count(self, outcome: str, events: int) -> None:
        if self.meter is not None:
            self.meter.count(RECEIVER, outcome, events)

    def _export(self, payload: bytes, context: grpc.ServicerContext) -> Any:
        what = WHAT[self.signal]
        try:
            decoded = self.decode(payload, self.aliases)
        except ProtobufDecodeError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"invalid protobuf: {exc}")
        except (NotOtlpError, ValueError, TypeError, KeyError, ArithmeticError) as exc:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"not an OTLP {self.signal} request: {exc}"
            )
        events, refused = split(decoded, self.bounds, self.clock())
        peer = context.peer()
        if refused:
            self.inbox.count_refused(senders_of((event for event, _ in refused), peer))
            self._count("bad", len(refused))
        reasons = [reason for _, reason in refused]
        if refused and not events:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, summary(reasons, len(decoded), what))
        if events:
            nbytes = estimate_bytes(events, len(payload) * len(events) // len(decoded))
            self._store(events, nbytes, peer, context)
        message = summary(reasons, len(decoded), what) if refused else ""
        return export_response(self.signal, len(refused), message)

    def _store(
        self,
        events: list[dict[str, Any]],
        nbytes: int,
        peer: str,
        context: grpc.ServicerContext,
    ) -> None:
        """Returns once the events are in the intake log on disk; else aborts the call
        (RESOURCE_EXHAUSTED for more than the whole inbox, UNAVAILABLE when full or failing)."""
        what = WHAT[self.signal]
        if not self.inbox.fits(len(events), nbytes):
            self._count("refused_413", len(events))
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"request of {len(events)} {what} is larger than the whole inbox: "
                "send smaller batches",
            )
        try:
            pending = self.intake.offer_events(events, senders_of(events, peer), nbytes)
            if pending is not None:
                pending.wait()
        except Refused as exc:
            self._count("refused_429", len(events))
            context.abort(grpc.StatusCode.UNAVAILABLE, exc.reason)
        except OSError as exc:
            self._count("refused_503", len(events))
            context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"spanwatch could not store the request ({exc.strerror or exc}); retry later",
            )
        self._count("ok", len(events))


def _handlers(
    intake: Intake,
    aliases: AliasTable,
    bounds: TimeBounds,
    clock: Callable[[], float],
    meter: IngestMeter | None = None,
) -> list[grpc.GenericRpcHandler]:
    handlers = []
    for signal, (service, _) in SERVICES.items():
        export = _Export(signal, intake, aliases, bounds, clock, meter)
        method = grpc.unary_unary_rpc_method_handler(
            export, response_serializer=lambda response: response.SerializeToString()
        )  # no request_deserializer: the bytes reach `export`, which parses them
        handlers.append(grpc.method_handlers_generic_handler(service, {"Export": method}))
    return handlers


class _GateInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]  # grpc ships no types
    """Refuses a call before its request is decoded, as the Collector's auth extensions do."""

    def __init__(self, gate: IngestGate, meter: IngestMeter | None = None) -> None:
        self.gate = gate
        self.meter = meter

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

        if self.meter is not None:
            method = handler_call_details.method or ""
            signal = "logs" if "LogsService" in method else "traces"
            self.meter.request(RECEIVER, signal, code.name)

        def refuse(_request: bytes, context: grpc.ServicerContext) -> None:
            context.abort(code, refusal.reason)

        # no deserializer: the request stays opaque bytes and is never decoded
        return grpc.unary_unary_rpc_method_handler(refuse)


class GrpcReceiver:
    def __init__(
        self,
        intake: Intake,
        aliases: AliasTable,
        address: str,
        max_body: int,
        *,
        gate: IngestGate,
        bounds: TimeBounds | None = None,
        clock: Callable[[], float] = time.time,
        meter: IngestMeter | None = None,
    ) -> None:
        # the limit holds for the message as received and after decompression (grpc core)
        options = [("grpc.max_receive_message_length", max_body)]
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4),
            handlers=_handlers(intake, aliases, bounds or TimeBounds(), clock, meter),
            interceptors=[_GateInterceptor(gate, meter)],
            options=options,
        )
        try:
            self.port = self.server.add_insecure_port(address)
        except RuntimeError:  # grpc's answer for an address it cannot bind
            self.port = 0
        if self.port == 0:
            raise ListenError(address, "the address cannot be bound (OTLP/gRPC)")
        self.address = f"{address.rpartition(':')[0]}:{self.port}"

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop(grace=2).wait(5)
