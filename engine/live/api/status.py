"""`/healthz` (open: counts only, senders under pseudonyms) and `/metrics` (Prometheus' text
format; read token unless `metrics.auth: none`, since usage labels name teams and people)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.flow.source_clocks import pseudonym
from engine.live.api.access import Access
from engine.live.inbox import Inbox
from engine.live.views import Views

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus' text format


def event_time_health(views: Views, inbox: Inbox) -> dict[str, Any]:
    """The order stage's per-sender counters, with the events the receivers refused at decode
    (`engine.otlp.event_checks`) counted against the same senders."""
    health = dict(views.event_time)
    refused = inbox.refused_senders()
    if not refused:
        return health
    sources = {name: dict(counts) for name, counts in health.get("sources", {}).items()}
    for sender, count in refused.items():
        sources.setdefault(pseudonym(sender), {})["refused"] = count
    health["sources"] = sources
    health["refused"] = sum(refused.values())
    return health


@dataclass(frozen=True)
class HealthRoute:
    views: Views
    inbox: Inbox
    ingest_refused: Callable[[], dict[str, int]] | None = None
    extra: Callable[[], dict[str, Any]] | None = None

    def route(self) -> Route:
        return Route("/healthz", self.health)

    async def health(self, _: Request) -> Response:
        inbox = self.inbox
        return JSONResponse(
            {
                "status": "ok",
                "events_accepted": inbox.accepted,
                "events_refused": inbox.refused,
                "inbox": {"events": inbox.waiting_events, "bytes": inbox.waiting_bytes},
                "ingest_requests_refused": self.ingest_refused() if self.ingest_refused else {},
                "open_incidents": len(self.views.list()),
                "event_time": event_time_health(self.views, inbox),
                **(self.extra() if self.extra is not None else {}),
            }
        )


@dataclass(frozen=True)
class MetricsRoute:
    render: Callable[[], bytes]
    access: Access
    open_to_all: bool = False

    def route(self) -> Route:
        return Route("/metrics", self.prometheus)

    async def prometheus(self, request: Request) -> Response:
        if not self.open_to_all:
            denied = self.access.may_read(request)
            if denied is not None:
                return denied
        body = await anyio.to_thread.run_sync(self.render)
        return Response(body, media_type=METRICS_CONTENT_TYPE)
