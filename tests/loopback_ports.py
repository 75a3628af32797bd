"""Loopback ports for servers a test starts, chosen so nothing else can take them first.

A port the kernel hands out for ``bind(("127.0.0.1", 0))`` comes from the ephemeral
range, the same range every outgoing connection (an HTTP client, a gRPC channel)
draws its local port from. Between the test choosing it and the engine binding it,
any connection on the machine may take it; CI saw exactly that as "Address already
in use". Ports here come from below the ephemeral range, where the kernel never
assigns on its own, and each pytest-xdist worker draws from its own slice, so two
workers never choose the same port either.
"""

from __future__ import annotations

import itertools
import os
import socket
from pathlib import Path

_SLICE = 1500
_FLOOR = 10_000


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _worker_slice() -> range:
    """This worker's ports: gw0 the first slice above the floor, gw1 the next, and so on."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) if worker.isdigit() else 0
    ceiling = _ephemeral_low()
    slices = max(1, (ceiling - _FLOOR) // _SLICE)
    start = _FLOOR + (index % slices) * _SLICE
    return range(start, min(start + _SLICE, ceiling))


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports() -> itertools.cycle[int]:
    ports = _worker_slice()
    offset = os.getpid() % len(ports)  # a rerun does not start on ports still in TIME_WAIT
    return itertools.cycle([*ports[offset:], *ports[:offset]])


_NEXT = _ports()


def free_port() -> int:
    """A loopback port free now and outside the range the kernel assigns by itself."""
    for _ in range(_SLICE):
        port = next(_NEXT)
        if _bindable(port):
            return port
    raise RuntimeError("no free loopback port in this worker's slice")
