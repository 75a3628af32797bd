"""A test-side flat view of the simulator's OTLP/JSON lines (replay must not import engine).

Independent of the simulator's own code. `official_events` reads lines through the official
protobuf classes (`google.protobuf.json_format`), so what passes there passes for any OTLP
consumer; `events` reads the same JSON with orjson, many times faster, for the statistical tests
(a format test checks that both views agree).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from replay.readers import HistoryFile, read_lines


def any_value(v: AnyValue) -> object:
    which = v.WhichOneof("value")
    return getattr(v, which) if which else None


def parse_line(line: bytes) -> ExportTraceServiceRequest | ExportLogsServiceRequest:
    """Parse with the official classes; raises if the line is not valid OTLP/JSON."""
    if line.startswith(b'{"resourceSpans"'):
        return json_format.Parse(line, ExportTraceServiceRequest())
    return json_format.Parse(line, ExportLogsServiceRequest())


def official_events(path: str | Path) -> Iterator[dict[str, object]]:
    """One flat dict per span / log record: resource then record attributes, plus basics."""
    for _, line in read_lines(HistoryFile(str(path), str(path))):
        message = parse_line(line)
        if isinstance(message, ExportTraceServiceRequest):
            for rs in message.resource_spans:
                base = {a.key: any_value(a.value) for a in rs.resource.attributes}
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        event = dict(base)
                        event.update({a.key: any_value(a.value) for a in span.attributes})
                        event["kind"] = "span"
                        event["name"] = span.name
                        event["time"] = span.start_time_unix_nano / 1e9
                        event["end"] = span.end_time_unix_nano / 1e9
                        event["status"] = "error" if span.status.code == 2 else "ok"
                        yield event
        else:
            for rl in message.resource_logs:
                base = {a.key: any_value(a.value) for a in rl.resource.attributes}
                for sl in rl.scope_logs:
                    for record in sl.log_records:
                        event = dict(base)
                        event.update({a.key: any_value(a.value) for a in record.attributes})
                        event["kind"] = "log"
                        event["name"] = record.body.string_value
                        event["time"] = record.time_unix_nano / 1e9
                        yield event


def _value(v: dict[str, object]) -> object:
    ((kind, value),) = v.items()
    return int(value) if kind == "intValue" else value  # type: ignore[arg-type]


def _attrs(attributes: list[dict[str, object]]) -> dict[str, object]:
    return {a["key"]: _value(a["value"]) for a in attributes}  # type: ignore[arg-type,index]


def events(path: str | Path) -> Iterator[dict[str, object]]:
    """The same flat dicts as `official_events`, read with orjson."""
    for _, line in read_lines(HistoryFile(str(path), str(path))):
        message = orjson.loads(line)
        for rs in message.get("resourceSpans", ()):
            base = _attrs(rs["resource"]["attributes"])
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    event = dict(base)
                    event.update(_attrs(span["attributes"]))
                    event["kind"] = "span"
                    event["name"] = span["name"]
                    event["time"] = int(span["startTimeUnixNano"]) / 1e9
                    event["end"] = int(span["endTimeUnixNano"]) / 1e9
                    code = span.get("status", {}).get("code", 0)
                    event["status"] = "error" if code == 2 else "ok"
                    yield event
        for rl in message.get("resourceLogs", ()):
            base = _attrs(rl["resource"]["attributes"])
            for sl in rl["scopeLogs"]:
                for record in sl["logRecords"]:
                    event = dict(base)
                    event.update(_attrs(record["attributes"]))
                    event["kind"] = "log"
                    event["name"] = record["body"]["stringValue"]
                    event["time"] = int(record["timeUnixNano"]) / 1e9
                    yield event
