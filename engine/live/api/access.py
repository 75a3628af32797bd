"""Who may call what on the engine's API, and how a write request's JSON body is read.

Changes need the write token; reads of incidents, silences and (unless opened) metrics need the
read token or the write token. Each check answers `None` when the request may go on, else the
response that refuses it (503 while the token is unset, 401 for a missing or wrong one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.live.bearer import bearer_matches
from engine.live.body import RequestRefused, read_body

MAX_BODY_BYTES = 64 * 1024  # an ack or a silence is a few hundred bytes


@dataclass(frozen=True)
class Access:
    """The API's two tokens, from the environment."""

    token: str | None
    read_token: str | None = None

    def may_write(self, request: Request) -> Response | None:
        if not self.token:
            return JSONResponse(
                {"error": "write endpoints are disabled: set SPANWATCH_API_TOKEN"}, status_code=503
            )
        if not bearer_matches(request.headers.get("authorization", ""), self.token.encode()):
            return JSONResponse(
                {"error": "missing or wrong bearer token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return None

    def may_read(self, request: Request) -> Response | None:
        accepted = [t.encode() for t in (self.read_token, self.token) if t]
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


async def json_object(request: Request) -> dict[str, Any]:
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


def refusal(exc: RequestRefused) -> Response:
    return JSONResponse({"error": exc.reason}, status_code=exc.status)
