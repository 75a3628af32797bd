"""OTLP/protobuf (the `opentelemetry-proto` classes) to normalised events.

The live receivers get protobuf on the wire; history gets JSON. Both meet in
`engine.otlp.normalised_event`, so a span decodes to the same event either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from engine.otlp.aliases import AliasTable
from engine.otlp.normalised_event import finish_log, finish_span


def any_value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, which)


def attributes(items: Iterable[KeyValue], into: dict[str, Any], prefix: str = "") -> None:
    for kv in items:
        value = any_value(kv.value)
        if isinstance(value, dict):
            _flatten(value, into, f"{prefix}{kv.key}.")
        else:
            into[prefix + kv.key] = value


def _flatten(mapping: dict[str, Any], into: dict[str, Any], prefix: str) -> None:
    for key, value in mapping.items():
        if isinstance(value, dict):
            _flatten(value, into, f"{prefix}{key}.")
        else:
            into[prefix + key] = value


def _hex(raw: bytes) -> str | None:
    return raw.hex() if raw else None


def decode_trace_request(
    request: ExportTraceServiceRequest, aliases: AliasTable
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for rs in request.resource_spans:
        resource_attrs: dict[str, Any] = {}
        attributes(rs.resource.attributes, resource_attrs)
        for ss in rs.scope_spans:
            base = dict(resource_attrs)
            attributes(ss.scope.attributes, base)
            aliases.fill(base)
            for span in ss.spans:
                own: dict[str, Any] = {}
                attributes(span.attributes, own)
                event = {**base, **own}
                out.append(
                    finish_span(
                        event,
                        name=span.name,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        trace_id=_hex(span.trace_id),
                        span_id=_hex(span.span_id),
                        parent_span_id=_hex(span.parent_span_id),
                        error=span.status.code == Status.STATUS_CODE_ERROR,
                        status_message=span.status.message or None,
                        aliases=aliases,
                        own=own,
                    )
                )
    return out


def decode_logs_request(
    request: ExportLogsServiceRequest, aliases: AliasTable
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for rl in request.resource_logs:
        resource_attrs: dict[str, Any] = {}
        attributes(rl.resource.attributes, resource_attrs)
        for sl in rl.scope_logs:
            base = dict(resource_attrs)
            attributes(sl.scope.attributes, base)
            for record in sl.log_records:
                event = dict(base)
                attributes(record.attributes, event)
                body = any_value(record.body) if record.HasField("body") else None
                out.append(
                    finish_log(
                        event,
                        time_ns=record.time_unix_nano or record.observed_time_unix_nano,
                        body=body,
                        event_name=record.event_name or None,
                        severity_number=record.severity_number,
                        trace_id=_hex(record.trace_id),
                        span_id=_hex(record.span_id),
                        aliases=aliases,
                    )
                )
    return out


def decode_trace_bytes(payload: bytes, aliases: AliasTable) -> list[dict[str, Any]]:
    """A serialized ExportTraceServiceRequest (the OTLP/HTTP protobuf body)."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(payload)
    return decode_trace_request(request, aliases)


def decode_logs_bytes(payload: bytes, aliases: AliasTable) -> list[dict[str, Any]]:
    request = ExportLogsServiceRequest()
    request.ParseFromString(payload)
    return decode_logs_request(request, aliases)
