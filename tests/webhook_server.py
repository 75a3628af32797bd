"""A local webhook for the live engine's tests: it answers every POST 200 and keeps the call.

A call is kept with the last part of its path, so that one server can stand for several
receivers (`/hook/team`, `/hook/pager`) or tell the engine's runs apart (`/hook/<run>`).
"""

from __future__ import annotations

import threading
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple


class Call(NamedTuple):
    """One POST as the webhook took it."""

    name: str  # the last part of the path
    headers: Message
    body: bytes


class WebhookServer:
    """A threaded HTTP server on a free loopback port; `calls()` in arrival order."""

    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server._lock:
                    server._calls.append(Call(self.path.rsplit("/", 1)[1], self.headers, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, name: str | int) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook/{name}"

    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)
