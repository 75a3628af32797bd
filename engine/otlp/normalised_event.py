"""The normalised event (docs/events.md): one flat mapping per span or log record.

Both OTLP encodings (JSON and protobuf) end here, so spans and Claude Code's log
events come out the same whatever the wire format was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from engine.otlp.aliases import AliasTable
from engine.otlp.event_checks import EARLIEST, seconds
from engine.timeutil import parse_time


class NotOtlpError(ValueError):
    """Valid JSON (or protobuf) that is not an OTLP request nor a normalised event."""


_ERROR_SEVERITY = 17  # SEVERITY_NUMBER_ERROR
_CLAUDE_CODE_PREFIX = "claude_code."


def finish_span(
    event: dict[str, Any],
    *,
    name: str,
    start_ns: int,
    end_ns: int,
    trace_id: str | None,
    span_id: str | None,
    parent_span_id: str | None,
    error: bool,
    status_message: str | None,
    aliases: AliasTable,
    own: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Attributes of one span (resource, scope and its own, merged) -> the normalised event.

    Event time is the span's end: that is when its outcome (status, tokens, cost) is known.
    Latency is end minus start when the start is a real time (not before 2000); times too
    large for a float become infinite, for `engine.otlp.event_checks` to refuse.
    `own`: the span's own attribute names when the rest was filled already (see AliasTable).
    """
    aliases.fill(event, own)
    if "latency_ms" not in event and seconds(start_ns) >= EARLIEST and end_ns >= start_ns:
        event["latency_ms"] = seconds(end_ns - start_ns, 1e6)
    event["time"] = seconds(end_ns or start_ns)
    event["kind"] = "span"
    event["name"] = name
    event["trace_id"] = trace_id
    event["span_id"] = span_id
    event["parent_span_id"] = parent_span_id
    event["status"] = "error" if error else "ok"
    if error and "error_type" not in event and status_message:
        event["error_type"] = status_message
    return aliases.settle(event)


def _log_name(event: Mapping[str, Any], body: Any, event_name: str | None) -> str:
    attr_name = event.get("event.name")
    body_name = body if isinstance(body, str) and 0 < len(body) < 200 and " " not in body else None
    short = event_name or (attr_name if isinstance(attr_name, str) else None)
    if short and body_name and (body_name == short or body_name.endswith("." + short)):
        name = body_name
    else:
        name = short or body_name or "log"
    if "." not in name and str(event.get("service.name", "")).startswith("claude-code"):
        name = _CLAUDE_CODE_PREFIX + name
    return name


def _falsy(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def finish_log(
    event: dict[str, Any],
    *,
    time_ns: int,
    body: Any,
    event_name: str | None,
    severity_number: Any,
    trace_id: str | None,
    span_id: str | None,
    aliases: AliasTable,
) -> dict[str, Any]:
    """Attributes of one log record -> the normalised event; Claude Code events get their name."""
    params = event.get("tool_parameters")
    if isinstance(params, str) and params.startswith("{"):
        _spread_tool_parameters(event, params)
    if isinstance(body, dict):
        for key, value in body.items():
            event.setdefault(f"body.{key}", value)
    name = _log_name(event, body, event_name)
    aliases.fill(event)
    event["time"] = seconds(time_ns)
    event["kind"] = "log"
    event["name"] = name
    event["trace_id"] = trace_id
    event["span_id"] = span_id
    event["parent_span_id"] = None
    error = _is_error(name, event, severity_number)
    event["status"] = "error" if error else "ok"
    if error and "error_type" not in event:
        _fill_error_type(event)
    return aliases.settle(event)


def _spread_tool_parameters(event: dict[str, Any], params: str) -> None:
    """A tool call's JSON parameters -> `tool_parameters.<key>` fields (scalars only)."""
    try:
        parsed = orjson.loads(params)
    except orjson.JSONDecodeError:
        return
    if isinstance(parsed, dict):
        for key, value in parsed.items():
            if not isinstance(value, dict | list):
                event[f"tool_parameters.{key}"] = value


def _is_error(name: str, event: dict[str, Any], severity_number: Any) -> bool:
    """An API error event, an unsuccessful one, or a record of error severity."""
    try:
        severity = int(severity_number or 0)
    except (TypeError, ValueError):
        severity = 0
    return name.endswith("api_error") or _falsy(event.get("success")) or severity >= _ERROR_SEVERITY


def _fill_error_type(event: dict[str, Any]) -> None:
    """An error without an `error_type` takes its error message or its status code."""
    for key in ("error", "status_code"):
        if event.get(key) is not None:
            event["error_type"] = str(event[key])
            return


# Columns in which exports of spans and log records to tables (Parquet, a warehouse) keep the
# attributes, as maps: their entries are read like OTLP attributes (the record's own first).
ATTRIBUTE_MAPS = ("attributes", "span_attributes", "log_attributes", "resource_attributes")


def _lift_attribute_maps(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The record with the entries of its attribute maps as fields: a column of the record
    wins over a span's attribute of the same name, which wins over its resource's."""
    event = {k: v for k, v in obj.items() if k not in ATTRIBUTE_MAPS or not isinstance(v, dict)}
    for column in ATTRIBUTE_MAPS:
        attrs = obj.get(column)
        if isinstance(attrs, dict):
            for name, value in attrs.items():
                if isinstance(name, str) and value is not None and name not in event:
                    event[name] = value
    return event


def normalise_flat(obj: Mapping[str, Any], aliases: AliasTable) -> dict[str, Any]:
    """A flat JSON event (one normalised event per line) -> the normalised event.

    Attribute maps (`attributes`, `resource_attributes`, ... as table exports keep them) are
    lifted into the event, so their Claude Code attribute names fill the canonical keys.
    """
    if "time" not in obj:
        raise NotOtlpError(
            "not an OTLP request (no resourceSpans/resourceLogs) nor an event (no time)"
        )
    event = _lift_attribute_maps(obj)
    try:
        event["time"] = parse_time(obj["time"])
    except ValueError as exc:
        raise NotOtlpError(str(exc)) from exc
    aliases.fill(event)
    event.setdefault("kind", "span")
    event.setdefault("name", "")
    status = event.get("status")
    event["status"] = "error" if status in ("error", 2, "STATUS_CODE_ERROR") else "ok"
    return aliases.settle(event)
