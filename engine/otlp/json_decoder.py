"""OTLP/JSON (as the OTLP specification encodes it) to normalised events.

Accepts what the Collector's file exporter writes (hex ids, lowerCamelCase keys,
`intValue` as a string, enums as integers) and also what protobuf's canonical JSON
mapping writes (base64 ids, enum names), since both circulate in history files.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from typing import Any

from engine.otlp.aliases import AliasTable
from engine.otlp.json_value import JSONValue
from engine.otlp.normalised_event import NotOtlpError, finish_log, finish_span

_STATUS_ERROR = (2, "STATUS_CODE_ERROR")


def any_value(value: object) -> Any:
    """Decode an OTLP/JSON AnyValue to a plain Python value (kvlists stay dicts here)."""
    if not isinstance(value, Mapping):
        raise NotOtlpError(f"AnyValue must be an object, got {type(value).__name__}")
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        raw = value["intValue"]
        if isinstance(raw, bool):
            raise NotOtlpError("intValue must be an integer or a decimal string")
        try:
            return int(raw)
        except (TypeError, ValueError) as exc:
            raise NotOtlpError(f"intValue {raw!r} is not an integer") from exc
    if "doubleValue" in value:
        raw = value["doubleValue"]
        if isinstance(raw, str):
            special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
            if raw in special:
                return special[raw]
        try:
            return float(raw)
        except (TypeError, ValueError) as exc:
            raise NotOtlpError(f"doubleValue {raw!r} is not a number") from exc
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        values = (value["arrayValue"] or {}).get("values") or []
        return [any_value(v) for v in values]
    if "kvlistValue" in value:
        values = (value["kvlistValue"] or {}).get("values") or []
        return {kv["key"]: any_value(kv.get("value") or {}) for kv in values}
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes(items: Any, into: dict[str, Any], prefix: str = "") -> None:
    """Merge a KeyValue list into a flat dict; nested kvlists become dotted keys."""
    if not items:
        return
    if not isinstance(items, list):
        raise NotOtlpError("attributes must be a list of {key, value}")
    for kv in items:
        try:
            key = prefix + kv["key"]
            value = kv.get("value")
        except (KeyError, TypeError, AttributeError) as exc:
            raise NotOtlpError("attribute without a key") from exc
        # the common scalar kinds first, inline: this loop runs for every attribute
        if value and len(value) == 1:
            if "stringValue" in value:
                into[key] = value["stringValue"]
                continue
            if "doubleValue" in value and isinstance(value["doubleValue"], float):
                into[key] = value["doubleValue"]
                continue
            if "boolValue" in value and isinstance(value["boolValue"], bool):
                into[key] = value["boolValue"]
                continue
            if "intValue" in value and _plain_int(value["intValue"]):
                into[key] = int(value["intValue"])
                continue
        decoded = any_value(value or {})
        if isinstance(decoded, dict):
            flatten(decoded, into, f"{key}.")
        else:
            into[key] = decoded


def _plain_int(raw: object) -> bool:
    """An intValue that `int` takes as it is: an int, or ASCII digits (the file exporter's
    spelling of a non-negative integer); anything else goes the long way, through `any_value`."""
    return type(raw) is int or (type(raw) is str and raw.isascii() and raw.isdigit())


def flatten(mapping: Mapping[str, Any], into: dict[str, Any], prefix: str) -> None:
    for key, value in mapping.items():
        if isinstance(value, dict):
            flatten(value, into, f"{prefix}{key}.")
        else:
            into[prefix + key] = value


def otlp_id(raw: object, size: int) -> str | None:
    """Ids as lowercase hex: the file exporter writes hex, protobuf's JSON mapping base64."""
    if not raw:
        return None
    if not isinstance(raw, str):
        raise NotOtlpError("ids must be strings")
    if len(raw) == size * 2:
        try:
            int(raw, 16)
        except ValueError:
            pass
        else:
            return raw.lower()
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NotOtlpError(f"id {raw!r} is neither hex nor base64") from exc
    if len(decoded) != size:
        raise NotOtlpError(f"id {raw!r} is not {size} bytes")
    return decoded.hex()


def nanos(raw: object) -> int:
    """A timestamp in nanoseconds from its integer or decimal text (0 when absent)."""
    if type(raw) is str or type(raw) is int:  # what exporters write: one check on the hot path
        return _integer(raw) if raw != "" else 0
    if raw is None:
        return 0
    if isinstance(raw, bool):
        raise NotOtlpError("timestamps must be integers")
    if not isinstance(raw, int | str | float):
        raise NotOtlpError(f"timestamp {raw!r} is not an integer")
    return _integer(raw)


def _integer(raw: int | str | float) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise NotOtlpError(f"timestamp {raw!r} is not an integer") from exc


def _scope_base(resource_attrs: dict[str, Any], scope: Any) -> dict[str, Any]:
    base = dict(resource_attrs)
    if type(scope) is dict or isinstance(scope, Mapping):
        attributes(scope.get("attributes"), base)
    return base


def decode_traces(request: Mapping[str, Any], aliases: AliasTable) -> list[dict[str, JSONValue]]:
    """ExportTraceServiceRequest as JSON -> one normalised event per span."""
    out: list[dict[str, Any]] = []
    resource_spans = request.get("resourceSpans")
    if not isinstance(resource_spans, list):
        raise NotOtlpError("resourceSpans must be a list")
    for rs in resource_spans:
        if type(rs) is not dict and not isinstance(rs, Mapping):
            raise NotOtlpError("resourceSpans entries must be objects")
        resource_attrs: dict[str, Any] = {}
        attributes((rs.get("resource") or {}).get("attributes"), resource_attrs)
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or ():
            base = aliases.fill(_scope_base(resource_attrs, ss.get("scope")))
            for span in ss.get("spans") or ():
                own: dict[str, Any] = {}
                attributes(span.get("attributes"), own)
                event = {**base, **own}
                status = span.get("status") or {}
                code = status.get("code", 0)
                start = nanos(span.get("startTimeUnixNano"))
                end = nanos(span.get("endTimeUnixNano"))
                name = span.get("name")
                if not isinstance(name, str):
                    raise NotOtlpError("span without a name")
                out.append(
                    finish_span(
                        event,
                        name=name,
                        start_ns=start,
                        end_ns=end,
                        trace_id=otlp_id(span.get("traceId"), 16),
                        span_id=otlp_id(span.get("spanId"), 8),
                        parent_span_id=otlp_id(span.get("parentSpanId"), 8),
                        error=code in _STATUS_ERROR,
                        status_message=status.get("message"),
                        aliases=aliases,
                        own=own,
                    )
                )
    return out


def decode_logs(request: Mapping[str, Any], aliases: AliasTable) -> list[dict[str, JSONValue]]:
    """ExportLogsServiceRequest as JSON -> one normalised event per log record."""
    out: list[dict[str, Any]] = []
    resource_logs = request.get("resourceLogs")
    if not isinstance(resource_logs, list):
        raise NotOtlpError("resourceLogs must be a list")
    for rl in resource_logs:
        if not isinstance(rl, Mapping):
            raise NotOtlpError("resourceLogs entries must be objects")
        resource_attrs: dict[str, Any] = {}
        attributes((rl.get("resource") or {}).get("attributes"), resource_attrs)
        for sl in rl.get("scopeLogs") or rl.get("instrumentationLibraryLogs") or ():
            base = _scope_base(resource_attrs, sl.get("scope"))
            for record in sl.get("logRecords") or ():
                event = dict(base)
                attributes(record.get("attributes"), event)
                body = record.get("body")
                body_value = any_value(body) if body else None
                out.append(
                    finish_log(
                        event,
                        time_ns=nanos(record.get("timeUnixNano"))
                        or nanos(record.get("observedTimeUnixNano")),
                        body=body_value,
                        event_name=record.get("eventName") or None,
                        severity_number=record.get("severityNumber"),
                        trace_id=otlp_id(record.get("traceId"), 16),
                        span_id=otlp_id(record.get("spanId"), 8),
                        aliases=aliases,
                    )
                )
    return out
