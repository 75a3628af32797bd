"""`/v1/silences`: list silences (read token), create and expire them (write token)."""

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


@dataclass(frozen=True)
class SilenceRoutes:
    views: Views
    access: Access
    desk: ControlDesk
    clock: Callable[[], float]

    def routes(self) -> list[Route]:
        return [
            Route("/v1/silences", self.list_or_create, methods=["GET", "POST"]),
            Route("/v1/silences/{id}", self.expire, methods=["DELETE"]),
        ]

    async def list_or_create(self, request: Request) -> Response:
        if request.method == "GET":
            denied = self.access.may_read(request)
            if denied is not None:
                return denied
            return JSONResponse({"silences": list(self.views.silences.values())})
        return await self.create(request)

    async def create(self, request: Request) -> Response:
        """A silence starts now unless the body says when; its id comes back in the answer."""
        denied = self.access.may_write(request)
        if denied is not None:
            return denied
        try:
            data = await json_object(request)
        except RequestRefused as exc:
            return refusal(exc)
        data = {"starts_at": self.clock(), **data, "type": "silence", "at": self.clock()}
        return await self.desk.submit(data)

    async def expire(self, request: Request) -> Response:
        denied = self.access.may_write(request)
        if denied is not None:
            return denied
        return await self.desk.submit(
            {"type": "expire_silence", "at": self.clock(), "id": request.path_params["id"]}
        )
