"""Listening sockets for the receivers and the API, with one-line errors for bad addresses."""

from __future__ import annotations

import socket


class ListenError(OSError):
    """An address the engine cannot listen on (in use, not local, no permission)."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"cannot listen on {address}: {reason}")
        self.address = address
        self.reason = reason


def listen(address: str) -> socket.socket:
    """A TCP socket bound to `address` (host:port, [v6]:port, or :port for all interfaces)."""
    host, _, port = address.rpartition(":")
    sock = socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: a response goes out as soon as it is written, instead
    # of its body waiting for the client's delayed ACK of the headers (~40 ms per request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host.strip("[]") or "0.0.0.0", int(port)))  # noqa: S104 - the configured address
    except OSError as exc:
        sock.close()
        raise ListenError(address, exc.strerror or str(exc)) from None
    except (OverflowError, ValueError) as exc:  # a port beyond 65535, or not a number
        sock.close()
        raise ListenError(address, str(exc)) from None
    sock.listen(128)
    return sock
