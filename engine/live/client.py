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


def call(
    base: str, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, object]:
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


def _fail(status: int, payload: object, out: TextIO) -> int:
    reason = payload.get("error") if isinstance(payload, dict) else payload
    print(f"spanwatch: HTTP {status}: {reason}", file=out)
    return 1


def _answer(payload: object, path: str) -> dict[str, Any]:
    """A successful answer's JSON object: anything else did not come from the engine's API."""
    if not isinstance(payload, dict):
        raise ApiError(f"{path}: the answer is not a JSON object: {str(payload)[:80]}")
    return payload


def _outcome_message(answer: dict[str, Any]) -> str | None:
    """What the engine said it did (a write answered within its wait), if it said it."""
    outcome = answer.get("outcome")
    message = outcome.get("message") if isinstance(outcome, dict) else None
    return message if isinstance(message, str) and message else None


def _accepted(answer: dict[str, Any]) -> dict[str, Any]:
    """The control event the engine accepted, as it echoes it (empty when it does not)."""
    accepted = answer.get("accepted")
    return accepted if isinstance(accepted, dict) else {}


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
    path = "/v1/incidents" + (f"?status={status}" if status else "")
    code, payload = call(base, "GET", path)
    if code != 200:
        return _fail(code, payload, err)
    incidents = _answer(payload, path).get("incidents")
    if not isinstance(incidents, list):
        raise ApiError(f"{path}: the answer holds no list of incidents")
    rows = by_severity_then_newest(incidents)
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
    path = f"/v1/incidents/{ref}/{action}"
    code, payload = call(base, "POST", path, {"by": by, "comment": comment})
    if code not in (200, 202):
        return _fail(code, payload, err)
    answer = _answer(payload, path)
    message = _outcome_message(answer)
    if code == 200 and message:
        print(message, file=out)  # applied, or already so
        return 0
    done = "acknowledgement" if action == "ack" else "resolution"
    print(f"{done} of {_accepted(answer).get('incident', ref)} accepted", file=out)
    return 0


def silence(base: str, body: dict[str, Any], out: TextIO, err: TextIO) -> int:
    code, payload = call(base, "POST", "/v1/silences", body)
    if code not in (200, 202):
        return _fail(code, payload, err)
    until = f", until {iso(body['ends_at'])}" if "ends_at" in body else ""
    answer = _answer(payload, "/v1/silences")
    message = _outcome_message(answer)
    if code == 200 and message:
        print(f"{message}{until}", file=out)  # created, or updated
        return 0
    ident = _accepted(answer).get("id")
    print(f"silence {ident} accepted{until}" if ident else f"silence accepted{until}", file=out)
    return 0
