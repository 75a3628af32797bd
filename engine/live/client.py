"""`spanwatch incidents list|ack|resolve|silence`: a small client of a running engine's API."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any, TextIO

TOKEN_ENV = "SPANWATCH_API_TOKEN"  # noqa: S105 - the name of the variable
READ_TOKEN_ENV = "SPANWATCH_API_READ_TOKEN"  # noqa: S105 - the name of the variable


class ApiError(Exception):
    pass


def call(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """One request; the token comes from the environment, never from the command line:
    the read token for reads when it is set, else the write token."""
    if not base.startswith(("http://", "https://")):
        raise ApiError(f"--api must be an http(s) URL, got {base!r}")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base.rstrip("/") + path, data=data, method=method)  # noqa: S310
    request.add_header("Content-Type", "application/json")
    token = os.environ.get(TOKEN_ENV)
    if method == "GET":
        token = os.environ.get(READ_TOKEN_ENV) or token
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read() or b"null")
        except json.JSONDecodeError:
            payload = None
        return exc.code, payload
    except (urllib.error.URLError, OSError) as exc:
        raise ApiError(f"cannot reach {base}: {getattr(exc, 'reason', exc)}") from None


def _fail(status: int, payload: Any, out: TextIO) -> int:
    reason = payload.get("error") if isinstance(payload, dict) else payload
    print(f"spanwatch: HTTP {status}: {reason}", file=out)
    return 1


def list_incidents(base: str, status: str | None, out: TextIO, err: TextIO) -> int:
    code, payload = call(base, "GET", "/v1/incidents" + (f"?status={status}" if status else ""))
    if code != 200:
        return _fail(code, payload, err)
    rows = payload["incidents"]
    if not rows:
        print("no incidents", file=out)
    for i in rows:
        group = ", ".join(f"{k}={v}" for k, v in i.get("group", {}).items())
        print(
            f"{i['id']:<14} {i['status']:<12} {i['severity']:<8} {i['rule_id']:<32} "
            f"{i['first_seen']}  x{i['count']}  {group}",
            file=out,
        )
    return 0


def transition(base: str, action: str, ref: str, by: str, comment: str, err: TextIO) -> int:
    code, payload = call(
        base, "POST", f"/v1/incidents/{ref}/{action}", {"by": by, "comment": comment}
    )
    if code != 202:
        return _fail(code, payload, err)
    return 0


def silence(base: str, body: dict[str, Any], out: TextIO, err: TextIO) -> int:
    code, payload = call(base, "POST", "/v1/silences", body)
    if code != 202:
        return _fail(code, payload, err)
    print(f"silence {payload['accepted'].get('id', '')} accepted", file=out)
    return 0
