"""Slack's interactive callback: an Acknowledge/Resolve button press becomes a control event.

Slack POSTs `payload=<json>` (form-encoded) to the app's Interactivity URL, signed with the
app's signing secret: `X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:<timestamp>:<body>")` and
`X-Slack-Request-Timestamp`. A body over 256 KiB is refused with 413 from its Content-Length or
as soon as the stream passes the limit, before the signature is checked (which needs the whole
body). Anything unsigned, wrongly signed or older than five minutes is refused with 401 before
the body is looked at. The verification is slack-sdk's
`SignatureVerifier` (constant-time `hmac.compare_digest`), with our clock.

The app answers on any path, so the engine can mount it wherever it likes, e.g.
`Route("/slack/actions", make_slack_actions_app(...), methods=["POST"])`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import Clock, SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from notifiers.channels.slack_blocks import ACK_ACTION, RESOLVE_ACTION
from notifiers.secret_refs import Secret

log = logging.getLogger("notifiers")

ACTION_TYPES = {ACK_ACTION: "ack", RESOLVE_ACTION: "resolve"}
MAX_BODY_BYTES = 256 * 1024


class _Clock(Clock):
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock()


def controls_from_payload(payload: dict[str, Any], at: float) -> list[dict[str, Any]]:
    """The ack/resolve control events a `block_actions` payload asks for (others: none)."""
    if payload.get("type") != "block_actions":
        return []
    user = payload.get("user") or {}
    by = str(user.get("username") or user.get("name") or user.get("id") or "unknown")
    controls = []
    for action in payload.get("actions") or []:
        kind = ACTION_TYPES.get(str(action.get("action_id", "")))
        incident = str(action.get("value") or "")
        if kind and incident:
            controls.append(
                {"type": kind, "at": at, "incident": incident, "by": by, "comment": "via slack"}
            )
    return controls


async def _bounded_body(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is over `limit` bytes: from Content-Length before a
    byte is read, else while streaming; never more than `limit` bytes held."""
    declared = request.headers.get("content-length", "").strip()
    if declared and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def make_slack_actions_app(
    signing_secret: str | Secret,
    on_control: Callable[[dict[str, Any]], None],
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """An ASGI app that verifies Slack's signature and calls `on_control` per button press."""
    secret = signing_secret.reveal() if isinstance(signing_secret, Secret) else signing_secret
    verifier = SignatureVerifier(secret, clock=_Clock(clock))

    async def handle(request: Request) -> Response:
        body = await _bounded_body(request, MAX_BODY_BYTES)
        if body is None:
            return PlainTextResponse("request too large", status_code=413)
        try:
            valid = verifier.is_valid_request(body, dict(request.headers))
        except (ValueError, TypeError):  # e.g. a timestamp that is not a number
            valid = False
        if not valid:
            return PlainTextResponse("invalid or stale signature", status_code=401)
        try:
            form = parse_qs(body.decode("utf-8"), strict_parsing=False)
            payload = json.loads(form["payload"][0])
            if not isinstance(payload, dict):
                raise TypeError("payload is not an object")
        except (KeyError, IndexError, ValueError, TypeError, UnicodeDecodeError):
            return PlainTextResponse("expected a form field 'payload' with JSON", status_code=400)
        controls = controls_from_payload(payload, clock())
        try:
            for control in controls:
                on_control(control)
        except Exception as exc:
            log.error("slack action could not be applied: %s", type(exc).__name__)
            return PlainTextResponse("could not apply the action", status_code=500)
        return JSONResponse({"ok": True, "applied": len(controls)})

    return Starlette(routes=[Route("/{path:path}", handle, methods=["POST"])])
