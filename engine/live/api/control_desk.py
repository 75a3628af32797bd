"""Acks, resolves and silences from the API, handed to the dataflow's control stream.

A change is parsed as a replay's `--control` line is, written to the intake log first (a crash
cannot lose a change that was answered), then the request waits up to `wait` seconds for the
incident stage's outcome: 200 when applied or already so, 404 for an unknown incident, 409 when
refused, 202 when the answer did not come in time.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from starlette.responses import JSONResponse, Response

from engine.incidents.control import ControlError, CreateSilence, parse_control
from engine.live.intake import Intake, Refused
from engine.live.otlp_http import durable
from engine.live.views import Views

OUTCOME_STATUS = {"applied": 200, "unchanged": 200, "not_found": 404, "refused": 409}


@dataclass(frozen=True)
class ControlDesk:
    """Where the API's write endpoints submit a change and wait for its outcome."""

    views: Views
    intake: Intake
    wait: float = 2.0

    async def submit(self, obj: dict[str, Any]) -> Response:
        try:
            event = parse_control(obj, where="api")
        except ControlError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if isinstance(event, CreateSilence):  # say which id a silence got, to expire it later
            obj = {**obj, "id": event.silence.id}  # and keep it so in the intake log
        ticket = secrets.token_hex(8)
        waiting = self.views.expect(ticket)
        try:
            await durable(self.intake.offer_control(obj, ticket))
        except (Refused, OSError) as exc:
            self.views.forget(ticket)
            reason = exc.reason if isinstance(exc, Refused) else f"cannot store it: {exc}"
            return JSONResponse({"error": reason}, status_code=503, headers={"Retry-After": "5"})
        if not await anyio.to_thread.run_sync(waiting.ready.wait, self.wait):
            self.views.forget(ticket)
            return JSONResponse({"accepted": obj}, status_code=202)
        return _outcome(obj, waiting.report or {})


def _outcome(obj: dict[str, Any], report: Mapping[str, Any]) -> Response:
    status = OUTCOME_STATUS.get(report.get("outcome", ""), 200)
    body: dict[str, Any] = {"accepted": obj, "outcome": report}
    if status >= 400:
        body["error"] = report.get("message", "")
    return JSONResponse(body, status_code=status)
