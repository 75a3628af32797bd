"""Local stand-ins for Slack, Teams and webhook endpoints: real HTTP servers on loopback.

Each one records every request and answers like the real service: it validates the payload
(Block Kit structure and limits, the Adaptive Card envelope and schema version, the 28 KB Teams
limit) and can be scripted to answer 429 with Retry-After, 500, or to respond too slowly.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.patience import PATIENCE


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int = 0  # what the fake answered

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # answered only once the test releases it (or the fake stops): later than any client's
    # timeout however slow the machine, where a fixed delay could race the client's clock
    held: bool = False


class FakeService:
    """A ThreadingHTTPServer on 127.0.0.1 with scripted replies, then a default responder."""

    def __init__(self, responder: Callable[[Recorded], Reply]) -> None:
        self.requests: list[Recorded] = []
        self._script: list[Reply] = []
        self._responder = responder
        self._lock = threading.Lock()
        self.released = threading.Event()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Recorded(
                    "POST",
                    self.path,
                    dict(self.headers.items()),
                    self.rfile.read(length),
                    time.monotonic(),
                )
                with service._lock:
                    service.requests.append(request)
                    reply = service._script.pop(0) if service._script else None
                reply = reply or service._responder(request)
                request.status = reply.status
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.held:
                    service.released.wait(PATIENCE)
                body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): like a real slow server

            def log_message(self, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, *replies: Reply) -> None:
        """The next requests get these replies, in order, before the default responder."""
        with self._lock:
            self._script.extend(replies)

    def wait_for(self, count: int, timeout: float = PATIENCE) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.005)
        raise AssertionError(f"expected {count} requests, got {len(self.requests)}")

    def stop(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()


# -- Slack ----------------------------------------------------------------------------------

BLOCK_TYPES = {"header", "section", "divider", "context", "actions"}


def block_kit_problems(message: dict[str, Any]) -> list[str]:
    """What Slack would reject in a message (the limits spanwatch relies on)."""
    problems: list[str] = []
    blocks = message.get("blocks")
    if not message.get("text") and not blocks:
        problems.append("no text and no blocks")
    if blocks is None:
        return problems
    if not isinstance(blocks, list) or len(blocks) > 50:
        return [*problems, "blocks must be a list of at most 50"]
    for index, block in enumerate(blocks):
        kind = block.get("type")
        where = f"block {index} ({kind})"
        if kind not in BLOCK_TYPES:
            problems.append(f"{where}: unknown type")
        if kind == "header":
            text = block["text"]
            if text["type"] != "plain_text" or len(text["text"]) > 150:
                problems.append(f"{where}: header must be plain_text <= 150")
        if kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"{where}: section needs text or fields")
            if "text" in block and len(block["text"]["text"]) > 3000:
                problems.append(f"{where}: text over 3000")
            fields = block.get("fields", [])
            if len(fields) > 10 or any(len(f["text"]) > 2000 for f in fields):
                problems.append(f"{where}: fields over limits")
        if kind == "context" and (not block.get("elements") or len(block["elements"]) > 10):
            problems.append(f"{where}: context needs 1..10 elements")
        if kind == "actions":
            elements = block.get("elements", [])
            if not elements or len(elements) > 25:
                problems.append(f"{where}: actions need 1..25 elements")
            for button in elements:
                if button.get("type") != "button" or len(button["text"]["text"]) > 75:
                    problems.append(f"{where}: bad button")
                if not button.get("action_id") or len(button.get("value", "")) > 2000:
                    problems.append(f"{where}: button needs action_id and value <= 2000")
    return problems


def slack_webhook_responder(request: Recorded) -> Reply:
    try:
        message = request.json()
    except ValueError:
        return Reply(400, "invalid_payload")
    if block_kit_problems(message):
        return Reply(400, "invalid_blocks")
    return Reply(200, "ok")


class SlackWebApi:
    """chat.postMessage / chat.update with a bot token, like slack.com/api."""

    def __init__(self, token: str) -> None:
        self.token = token
        self._ts = itertools.count(1)
        self.service = FakeService(self.respond)

    @property
    def base_url(self) -> str:
        return self.service.url + "/api/"

    def respond(self, request: Recorded) -> Reply:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Reply(200, json.dumps({"ok": False, "error": "invalid_auth"}))
        message = request.json()
        if block_kit_problems(message):
            return Reply(200, json.dumps({"ok": False, "error": "invalid_blocks"}))
        method = request.path.rsplit("/", 1)[-1]
        if method == "chat.postMessage":
            ts = f"1700000000.{next(self._ts):06d}"
            return Reply(200, json.dumps({"ok": True, "channel": "C0SPAN", "ts": ts}))
        if method == "chat.update":
            return Reply(
                200, json.dumps({"ok": True, "channel": message["channel"], "ts": message["ts"]})
            )
        return Reply(200, json.dumps({"ok": False, "error": "unknown_method"}))


# -- Teams ----------------------------------------------------------------------------------

TEAMS_LIMIT = 28 * 1024


def adaptive_card_problems(payload: dict[str, Any]) -> list[str]:
    problems = []
    if payload.get("type") != "message":
        problems.append("envelope type must be 'message'")
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return [*problems, "attachments must hold one card"]
    attachment = attachments[0]
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
        problems.append("wrong contentType")
    card = attachment.get("content") or {}
    if card.get("type") != "AdaptiveCard":
        problems.append("content is not an AdaptiveCard")
    if card.get("$schema") != "http://adaptivecards.io/schemas/adaptive-card.json":
        problems.append("missing $schema")
    if card.get("version") not in {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"}:
        problems.append("unsupported card version")
    if not isinstance(card.get("body"), list) or not card["body"]:
        problems.append("empty body")
    for element in card.get("body", []):
        if element.get("type") not in {"TextBlock", "FactSet", "Container"}:
            problems.append(f"unexpected element {element.get('type')}")
    return problems


def teams_workflow_responder(request: Recorded) -> Reply:
    if len(request.body) > TEAMS_LIMIT:
        return Reply(413, "RequestEntityTooLarge")
    try:
        payload = request.json()
    except ValueError:
        return Reply(400, "bad json")
    problems = adaptive_card_problems(payload)
    if problems:
        return Reply(400, "; ".join(problems))
    return Reply(202)


def teams_connector_responder(request: Recorded) -> Reply:
    payload = request.json()
    if payload.get("@type") != "MessageCard" or not (
        payload.get("text") or payload.get("sections")
    ):
        return Reply(400, "Summary or Text is required.")
    if len(request.body) > TEAMS_LIMIT:
        return Reply(413, "too large")
    return Reply(200, "1")
