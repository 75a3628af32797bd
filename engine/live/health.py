"""`spanwatch health`: is the engine configured here up? For container health checks.

The address comes from the same configuration the engine runs with (`live.api`), so a
health check keeps working when the API moves off its default port.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import TextIO

WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "[::]": "[::1]"}  # noqa: S104


def api_url(address: str) -> str:
    """The URL to reach an API that listens on `address` (HOST:PORT), from the same host."""
    host, _, port = address.rpartition(":")
    return f"http://{WILDCARD_HOSTS.get(host, host)}:{port}"


def check(base: str, out: TextIO, timeout: float = 4.0) -> int:
    """0 and one line when `GET /healthz` answers 200; 1 and the reason otherwise."""
    url = base.rstrip("/") + "/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s) only
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        out.write(f"unhealthy: {url} answered HTTP {exc.code}\n")
        return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        out.write(f"unhealthy: {url}: {getattr(exc, 'reason', exc)}\n")
        return 1
    out.write(
        f"healthy: {url} ({body.get('events_accepted', 0)} events accepted, "
        f"{body.get('open_incidents', 0)} open incidents)\n"
    )
    return 0
