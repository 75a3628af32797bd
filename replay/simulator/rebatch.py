"""The same OTLP/JSON history in other lines: one line per agent session.

History reaches spanwatch batched in many ways: the Collector's file exporter writes a request
per batch of records ordered by end time, an export job or a data-lake dump writes one line per
agent session ordered by session start, a retrying exporter writes whatever its queue held. The
records are the same; only the lines differ. These functions take a history's lines apart into
records (each with its resource and scope) and put them back together in another shape, so that
a replay can be checked to give the same answer whatever the shape, and so that a history in one
shape can be turned into another with `spanwatch`-independent code (this package never decodes
events: it only moves OTLP/JSON objects around).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

SIGNALS = {"resourceSpans": ("scopeSpans", "spans"), "resourceLogs": ("scopeLogs", "logRecords")}


@dataclass(frozen=True)
class ScopedRecord:
    """One span or log record, with the resource and scope it was sent under."""

    signal: str  # "resourceSpans" | "resourceLogs"
    resource: bytes  # the resource object, as JSON
    scope: bytes  # the scope object, as JSON
    record: dict[str, Any]

    @property
    def start(self) -> int:
        r = self.record
        return int(r.get("startTimeUnixNano") or r.get("timeUnixNano") or 0)

    @property
    def end(self) -> int:
        r = self.record
        return int(r.get("endTimeUnixNano") or r.get("timeUnixNano") or 0)

    def session(self) -> str:
        """The agent session: `session.id` on the record or its resource ("" when neither)."""
        for attrs in (self.record.get("attributes"), orjson.loads(self.resource).get("attributes")):
            for kv in attrs or ():
                if kv.get("key") == "session.id":
                    return str((kv.get("value") or {}).get("stringValue", ""))
        return ""


def records(lines: Iterable[bytes]) -> Iterator[ScopedRecord]:
    """Every span and log record of OTLP/JSON request lines, in the order they appear."""
    for line in lines:
        if not line.strip():
            continue
        obj = orjson.loads(line)
        for signal, (scopes_key, records_key) in SIGNALS.items():
            for resource_entry in obj.get(signal) or ():
                resource = orjson.dumps(resource_entry.get("resource") or {})
                for scope_entry in resource_entry.get(scopes_key) or ():
                    scope = orjson.dumps(scope_entry.get("scope") or {})
                    for record in scope_entry.get(records_key) or ():
                        yield ScopedRecord(signal, resource, scope, record)


def to_lines(batch: list[ScopedRecord]) -> list[bytes]:
    """One request line per signal in `batch`, records grouped under their resource and scope."""
    out = []
    for signal, (scopes_key, records_key) in SIGNALS.items():
        grouped: dict[bytes, dict[bytes, list[dict[str, Any]]]] = {}
        for r in batch:
            if r.signal == signal:
                grouped.setdefault(r.resource, {}).setdefault(r.scope, []).append(r.record)
        if not grouped:
            continue
        entries = [
            {
                "resource": orjson.loads(resource),
                scopes_key: [
                    {"scope": orjson.loads(scope), records_key: recs}
                    for scope, recs in scopes.items()
                ],
            }
            for resource, scopes in grouped.items()
        ]
        out.append(orjson.dumps({signal: entries}))
    return out


def by_session(all_records: Iterable[ScopedRecord]) -> list[bytes]:
    """One line per agent session and signal, sessions in the order they started.

    This is how an export job or a data-lake dump tends to write history: every line holds a
    whole session, so a line's records span minutes or hours and trail the previous line's.
    """
    sessions: dict[str, list[ScopedRecord]] = {}
    for r in all_records:
        sessions.setdefault(r.session(), []).append(r)
    ordered = sorted(sessions.items(), key=lambda kv: (min(r.start for r in kv[1]), kv[0]))
    return [line for _, recs in ordered for line in to_lines(recs)]
