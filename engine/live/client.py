"""`spanwatch incidents list|ack|resolve|silence`: a small client of a running engine's API.

Writes print the engine's own answer when it came in time (HTTP 200: applied, or already so),
and "accepted" when the engine took the request but had not applied it yet (HTTP 202).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any, TextIO

from engine.timeutil import iso
from notifiers.model import IncidentData

TOKEN_ENV = "SPANWATCH_API_TOKEN"  # noqa: S105 - the name of the variable
READ_TOKEN_ENV = "SPANWATCH_API_READ_TOKEN"  # noqa: S105 - the name of the variable
ANSWER_SECONDS = 60  # a write's answer waits for the engine (live.control_wait_seconds) first


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
        with urllib.request.urlopen(request, timeout=ANSWER_SECONDS) as response:  # noqa: S310
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


SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")
COLUMNS = ("ID", "STATUS", "SEVERITY", "RULE", "FIRST SEEN", "LAST SEEN", "COUNT", "GROUP")


def by_severity_then_newest(incidents: list[IncidentData]) -> list[IncidentData]:
    """Most severe first; within a severity, the most recently opened first."""
    newest = sorted(incidents, key=lambda i: (i.get("first_seen", ""), i.get("id", "")))[::-1]

    def rank(i: IncidentData) -> int:
        severity = i.get("severity")
        return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)

    return sorted(newest, key=rank)


def table(incidents: list[IncidentData]) -> list[str]:
    """Aligned rows under a header, one incident per row."""
    rows = [COLUMNS] + [
        (
            str(i.get("id", "")),
            str(i.get("status", "")),
            str(i.get("severity", "")),
            str(i.get("rule_id", "")),
            str(i.get("first_seen", "")),
            str(i.get("last_seen", "")),
            str(i.get("count", "")),
            ", ".join(f"{k}={v}" for k, v in (i.get("group") or {}).items()),
        )
        for i in incidents
    ]
    widths = [max(len(row[c]) for row in rows) for c in range(len(COLUMNS) - 1)]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    ]


def list_incidents(
    base: str, status: str | None, out: TextIO, err: TextIO, *, as_json: bool = False
) -> int:
    code, payload = call(base, "GET", "/v1/incidents" + (f"?status={status}" if status else ""))
    if code != 200:
        return _fail(code, payload, err)
    rows = by_severity_then_newest(payload["incidents"])
    if as_json:
        out.write(json.dumps(rows, indent=2) + "\n")
    elif not rows:
        print("no incidents" if status == "all" else "no open incidents", file=out)
    else:
        for line in table(rows):
            print(line.rstrip(), file=out)
    return 0


def transition(
    base: str, action: str, ref: str, by: str, comment: str, out: TextIO, err: TextIO
) -> int:
    code, payload = call(
        base, "POST", f"/v1/incidents/{ref}/{action}", {"by": by, "comment": comment}
    )
    if code not in (200, 202):
        return _fail(code, payload, err)
    outcome = payload.get("outcome")
    if code == 200 and outcome and outcome.get("message"):
        print(outcome["message"], file=out)  # applied, or already so
        return 0
    done = "acknowledgement" if action == "ack" else "resolution"
    print(f"{done} of {payload['accepted'].get('incident', ref)} accepted", file=out)
    return 0


def silence(base: str, body: dict[str, Any], out: TextIO, err: TextIO) -> int:
    code, payload = call(base, "POST", "/v1/silences", body)
    if code not in (200, 202):
        return _fail(code, payload, err)
    until = f", until {iso(body['ends_at'])}" if "ends_at" in body else ""
    outcome = payload.get("outcome")
    if code == 200 and outcome and outcome.get("message"):
        print(f"{outcome['message']}{until}", file=out)  # created, or updated
        return 0
    ident = payload["accepted"].get("id")
    print(f"silence {ident} accepted{until}" if ident else f"silence accepted{until}", file=out)
    return 0
