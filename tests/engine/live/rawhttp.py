"""A bare HTTP/1.1 client on a socket, to send what ordinary clients will not: a large
Content-Length with no body behind it, or a chunked body that never ends."""

from __future__ import annotations

import select
import socket
from dataclasses import dataclass


@dataclass
class Answer:
    status: int
    head: str
    body: bytes
    sent: int  # body bytes written before the answer came


def _open(base: str) -> socket.socket:
    host, _, port = base.removeprefix("http://").rpartition(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _read_answer(sock: socket.socket, sent: int) -> Answer:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    text = head.decode("latin-1")
    length = next(
        (
            int(line.split(":", 1)[1])
            for line in text.split("\r\n")
            if line.lower().startswith("content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Answer(int(text.split(" ", 2)[1]), text, body, sent)


def _head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def declare_only(base: str, path: str, length: int, headers: dict[str, str]) -> Answer:
    """Announce a body of `length` bytes and send none of it: the answer must come anyway."""
    with _open(base) as sock:
        sock.sendall(_head(path, {**headers, "Content-Length": str(length)}))
        return _read_answer(sock, 0)


def endless_chunks(
    base: str, path: str, headers: dict[str, str], chunk: bytes, give_up_after: int
) -> Answer | None:
    """Stream chunks until the server answers (or `give_up_after` bytes: then None)."""
    with _open(base) as sock:
        sock.sendall(_head(path, {**headers, "Transfer-Encoding": "chunked"}))
        sent = 0
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        while sent < give_up_after:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                return _read_answer(sock, sent)
            sock.sendall(frame)
            sent += len(chunk)
        readable, _, _ = select.select([sock], [], [], 5)
        return _read_answer(sock, sent) if readable else None
