"""The engine's HTTP API: health, incidents, acknowledgement, silences, Slack buttons.

Every write endpoint needs `Authorization: Bearer <token>` (the token comes from the
environment); acks, resolves and silences enter the dataflow's control stream, exactly as
a replay's `--control` file does, so all incident state stays in the dataflow. They are
written to the intake log first, like the receivers' events (a crash cannot lose an ack that
was answered). The incident stage applies them as soon as they arrive, and the request waits
(up to `control_wait` seconds) for the outcome: 200 when applied or already so, 404 for an unknown incident, 409
when refused (an ack of a resolved incident), 202 when the answer did not come in time. Once
answered, the next read shows the change. Reads of incidents and silences hold people's
names, emails and repositories: they need the read token or the write token, and so does
`/metrics` (usage labels name teams, repositories and the busiest people) unless
`metrics.auth: none`. `/healthz` stays open and answers only counts (senders under
pseudonyms).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.incidents.control import ControlError, CreateSilence, parse_control
from engine.live.bearer import bearer_matches
from engine.live.body import RequestRefused, read_body
from engine.live.inbox import Inbox
from engine.live.intake import Intake, Refused
from engine.live.otlp_http import durable
from engine.live.views import Views
from engine.live.watermarks import pseudonym

OUTCOME_STATUS = {"applied": 200, "unchanged": 200, "not_found": 404, "refused": 409}
MAX_BODY_BYTES = 64 * 1024  # an ack or a silence is a few hundred bytes
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


def make_api_app(
    views: Views,
    intake: Intake,
    *,
    token: str | None,
    read_token: str | None = None,
    slack_actions: Any | None = None,
    clock: Callable[[], float] = time.time,
    ingest_refused: Callable[[], dict[str, int]] | None = None,
    control_wait: float = 2.0,
    health_extra: Callable[[], dict[str, Any]] | None = None,
    metrics: Callable[[], bytes] | None = None,
    metrics_open: bool = False,
) -> Starlette:
    inbox = intake.inbox

    def authorized(request: Request) -> Response | None:
        if not token:
            return JSONResponse(
                {"error": "write endpoints are disabled: set SPANWATCH_API_TOKEN"}, status_code=503
            )
        if not bearer_matches(request.headers.get("authorization", ""), token.encode()):
            return JSONResponse(
                {"error": "missing or wrong bearer token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return None

    def may_read(request: Request) -> Response | None:
        accepted = [t.encode() for t in (read_token, token) if t]
        if not accepted:
            return JSONResponse(
                {"error": "read endpoints are disabled: set SPANWATCH_API_READ_TOKEN"},
                status_code=503,
            )
        header = request.headers.get("authorization", "")
        if not any(bearer_matches(header, t) for t in accepted):
            return JSONResponse(
                {"error": "missing or wrong bearer token (the read or the write token)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return None

    async def body(request: Request) -> dict[str, Any]:
        """The JSON object of a write request; RequestRefused (400, 413) says why not."""
        raw = await read_body(request, MAX_BODY_BYTES)
        if not raw:
            return {}
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise RequestRefused(400, f"invalid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise RequestRefused(400, "expected a JSON object")
        return data

    async def enqueue(obj: dict[str, Any]) -> Response:
        try:
            event = parse_control(obj, where="api")
        except ControlError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if isinstance(event, CreateSilence):  # say which id a silence got, to expire it later
            obj = {**obj, "id": event.silence.id}  # and keep it so in the intake log
        ticket = secrets.token_hex(8)
        waiting = views.expect(ticket)
        try:
            await durable(intake.offer_control(obj, ticket))
        except (Refused, OSError) as exc:
            views.forget(ticket)
            reason = exc.reason if isinstance(exc, Refused) else f"cannot store it: {exc}"
            return JSONResponse({"error": reason}, status_code=503, headers={"Retry-After": "5"})
        if not await anyio.to_thread.run_sync(waiting.ready.wait, control_wait):
            views.forget(ticket)
            return JSONResponse({"accepted": obj}, status_code=202)
        report = waiting.report or {}
        status = OUTCOME_STATUS.get(report.get("outcome", ""), 200)
        body: dict[str, Any] = {"accepted": obj, "outcome": report}
        if status >= 400:
            body["error"] = report.get("message", "")
        return JSONResponse(body, status_code=status)

    async def health(_: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "events_accepted": inbox.accepted,
                "events_refused": inbox.refused,
                "inbox": {"events": inbox.waiting_events, "bytes": inbox.waiting_bytes},
                "ingest_requests_refused": ingest_refused() if ingest_refused else {},
                "open_incidents": len(views.list()),
                "event_time": event_time_health(views, inbox),
                **(health_extra() if health_extra is not None else {}),
            }
        )

    async def incidents(request: Request) -> Response:
        denied = may_read(request)
        if denied is not None:
            return denied
        return JSONResponse({"incidents": views.list(request.query_params.get("status"))})

    async def incident(request: Request) -> Response:
        denied = may_read(request)
        if denied is not None:
            return denied
        found = views.find(request.path_params["ref"])
        if found is None:
            return JSONResponse({"error": "no such incident"}, status_code=404)
        return JSONResponse(found)

    async def transition(request: Request) -> Response:
        denied = authorized(request)
        if denied is not None:
            return denied
        found = views.find(request.path_params["ref"])
        if found is None:
            return JSONResponse({"error": "no such incident"}, status_code=404)
        try:
            data = await body(request)
        except RequestRefused as exc:
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        kind = request.path_params["action"]
        if kind not in ("ack", "resolve"):
            return JSONResponse({"error": "actions are ack and resolve"}, status_code=404)
        return await enqueue(
            {
                "type": kind,
                "at": clock(),
                "incident": found["id"],
                "by": str(data.get("by", "api")),
                "comment": str(data.get("comment", "")),
            }
        )

    async def silences(request: Request) -> Response:
        if request.method == "GET":
            denied = may_read(request)
            if denied is not None:
                return denied
            return JSONResponse({"silences": list(views.silences.values())})
        denied = authorized(request)
        if denied is not None:
            return denied
        try:
            data = await body(request)
        except RequestRefused as exc:
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        data = {"starts_at": clock(), **data, "type": "silence", "at": clock()}
        return await enqueue(data)

    async def expire(request: Request) -> Response:
        denied = authorized(request)
        if denied is not None:
            return denied
        return await enqueue(
            {"type": "expire_silence", "at": clock(), "id": request.path_params["id"]}
        )

    async def prometheus(request: Request) -> Response:
        if not metrics_open:
            denied = may_read(request)
            if denied is not None:
                return denied
        assert metrics is not None
        body = await anyio.to_thread.run_sync(metrics)
        return Response(body, media_type=METRICS_CONTENT_TYPE)

    routes: list[Any] = [
        Route("/healthz", health),
        Route("/v1/incidents", incidents),
        Route("/v1/incidents/{ref}", incident),
        Route("/v1/incidents/{ref}/{action:str}", transition, methods=["POST"]),
        Route("/v1/silences", silences, methods=["GET", "POST"]),
        Route("/v1/silences/{id}", expire, methods=["DELETE"]),
    ]
    if metrics is not None:
        routes.append(Route("/metrics", prometheus))
    if slack_actions is not None:
        routes.append(Route("/slack/actions", slack_actions, methods=["POST"]))
    return Starlette(routes=routes)
