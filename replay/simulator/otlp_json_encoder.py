"""OTLP/JSON exactly as the OTLP specification encodes it, built for speed.

Spans and log records are encoded to bytes one by one (orjson) as soon as they are made, and
batch lines are spliced from those fragments: memory stays small and nothing is encoded twice.
Encoding rules (OTLP/JSON, not plain proto3 JSON): lowerCamelCase keys, trace and span ids as
lowercase hex, 64-bit integers (`*UnixNano`, `intValue`) as decimal strings, enums as integers.
"""

from __future__ import annotations

from typing import Any

import orjson

SPAN_KIND_INTERNAL = 1
SPAN_KIND_CLIENT = 3
STATUS_CODE_ERROR = 2

Attribute = dict[str, Any]


def s_attr(key: str, value: str) -> Attribute:
    return {"key": key, "value": {"stringValue": value}}


def i_attr(key: str, value: int) -> Attribute:
    return {"key": key, "value": {"intValue": str(value)}}


def d_attr(key: str, value: float) -> Attribute:
    return {"key": key, "value": {"doubleValue": value}}


def b_attr(key: str, value: bool) -> Attribute:
    return {"key": key, "value": {"boolValue": value}}


def encode(obj: object) -> bytes:
    return orjson.dumps(obj)


def trace_line(groups: list[tuple[bytes, bytes, list[bytes]]]) -> bytes:
    """One `ExportTraceServiceRequest`: `groups` are (resource, scope, encoded spans) triples."""
    body = b",".join(
        b'{"resource":%s,"scopeSpans":[{"scope":%s,"spans":[%s]}]}'
        % (resource, scope, b",".join(spans))
        for resource, scope, spans in groups
    )
    return b'{"resourceSpans":[%s]}\n' % body


def logs_line(groups: list[tuple[bytes, bytes, list[bytes]]]) -> bytes:
    """One `ExportLogsServiceRequest`: `groups` are (resource, scope, encoded log records)."""
    body = b",".join(
        b'{"resource":%s,"scopeLogs":[{"scope":%s,"logRecords":[%s]}]}'
        % (resource, scope, b",".join(records))
        for resource, scope, records in groups
    )
    return b'{"resourceLogs":[%s]}\n' % body


def resource(attributes: list[Attribute]) -> bytes:
    return encode({"attributes": attributes})


def scope(name: str, version: str) -> bytes:
    return encode({"name": name, "version": version})
