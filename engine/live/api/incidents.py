"""`/v1/incidents`: list and look up incidents (read token), acknowledge or resolve (write)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.live.api.access import Access, json_object, refusal
from engine.live.api.control_desk import ControlDesk
from engine.live.body import RequestRefused
from engine.live.views import Views

ACTIONS = ("ack", "resolve")


@dataclass(frozen=True)
class IncidentRoutes:
    views: Views
    access: Access
    desk: ControlDesk
    clock: Callable[[], float]

    def routes(self) -> list[Route]:
        return [
            Route("/v1/incidents", self.list_all),
            Route("/v1/incidents/{ref}", self.one),
            Route("/v1/incidents/{ref}/{action:str}", self.transition, methods=["POST"]),
        ]

    async def list_all(self, request: Request) -> Response:
        denied = self.access.may_read(request)
        if denied is not None:
            return denied
        return JSONResponse({"incidents": self.views.list(request.query_params.get("status"))})

    async def one(self, request: Request) -> Response:
        denied = self.access.may_read(request)
        if denied is not None:
            return denied
        found = self.views.find(request.path_params["ref"])
        if found is None:
            return JSONResponse({"error": "no such incident"}, status_code=404)
        return JSONResponse(found)

    async def transition(self, request: Request) -> Response:
        """Ack or resolve: who did it and why come from the optional JSON body."""
        denied = self.access.may_write(request)
        if denied is not None:
            return denied
        found = self.views.find(request.path_params["ref"])
        if found is None:
            return JSONResponse({"error": "no such incident"}, status_code=404)
        try:
            data = await json_object(request)
        except RequestRefused as exc:
            return refusal(exc)
        kind = request.path_params["action"]
        if kind not in ACTIONS:
            return JSONResponse({"error": "actions are ack and resolve"}, status_code=404)
        return await self.desk.submit(
            {
                "type": kind,
                "at": self.clock(),
                "incident": found["id"],
                "by": str(data.get("by", "api")),
                "comment": str(data.get("comment", "")),
            }
        )
