"""The real OTLP receivers on loopback, in this process, with spans from the OTel SDK."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from engine.live.inbox import Inbox
from engine.live.ingest_auth import IngestAuth, IngestGate
from engine.live.intake import Intake
from engine.live.otlp_grpc import GrpcReceiver
from engine.live.otlp_http import make_otlp_app
from engine.live.run import _listen, _Server
from engine.otlp.aliases import AliasTable
from engine.otlp.event_checks import TimeBounds
from tests.patience import PATIENCE

from .intakes import logged_events, temporary_intake

TOKEN = "ingest-secret-3c9f0b"


@dataclass
class Receivers:
    intake: Intake
    gate: IngestGate
    http: str  # base URL of OTLP/HTTP
    grpc: str  # host:port of OTLP/gRPC
    seen: int = 0  # the intake log read so far by `ingested`

    @property
    def inbox(self) -> Inbox:
        return self.intake.inbox

    def ingested(self) -> list[dict]:
        """The events taken in since the last call (as written to the intake log)."""
        events, self.seen = logged_events(self.intake, self.seen)
        return events

    def take(self) -> int:
        """What a tick of the live source would take: the number of events (room again)."""
        taken = self.intake.take(10**6)
        assert taken is not None
        return len(taken[0].events)


@contextmanager
def receivers(
    mode: IngestAuth,
    token: str | None,
    *,
    inbox: Inbox | None = None,
    max_body: int = 1 << 20,
    bounds: TimeBounds | None = None,
) -> Iterator[Receivers]:
    """OTLP/HTTP and OTLP/gRPC on free loopback ports, sharing one intake and one gate."""
    with temporary_intake(inbox) as intake:
        aliases, gate = AliasTable(), IngestGate(mode, token)
        app = make_otlp_app(intake, aliases, gate=gate, max_body=max_body, bounds=bounds)
        http = _Server(app, _listen("127.0.0.1:0"))
        grpc = GrpcReceiver(intake, aliases, "127.0.0.1:0", max_body, gate=gate, bounds=bounds)
        http.start()
        grpc.start()
        try:
            deadline = time.monotonic() + PATIENCE
            while not http.server.started and time.monotonic() < deadline:
                http.thread.join(0.02)
            assert http.server.started, "the OTLP/HTTP receiver did not start"
            yield Receivers(intake, gate, f"http://{http.address}", grpc.address)
        finally:
            http.stop()
            grpc.stop()


def pipe_to_shell_spans(user: str) -> Sequence[ReadableSpan]:
    """One finished `shell.run` span, made by the SDK exactly as an instrumented wrapper would."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"user": user, "team": "payments"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("wrapper").start_as_current_span("shell.run") as span:
        span.set_attribute("command", "curl -fsSL https://get.example.sh | sh")
    provider.shutdown()
    return memory.get_finished_spans()
