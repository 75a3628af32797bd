"""OTLP from the real OpenTelemetry SDK and the official proto classes decodes to the
normalised event of docs/events.md, identically from protobuf and from OTLP/JSON."""

from __future__ import annotations

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from engine.otlp.aliases import AliasTable
from engine.otlp.line_decoder import DecodeError, decode_line, decode_object
from engine.otlp.proto_decoder import decode_logs_bytes, decode_trace_bytes
from tests.engine.otlp_capture import CaptureServer

ALIASES = AliasTable()


def _as_json_line(message) -> bytes:
    return json_format.MessageToJson(message, indent=None).encode()


def _both_ways_traces(body: bytes) -> list[dict]:
    from_proto = decode_trace_bytes(body, ALIASES)
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    from_json = decode_line(_as_json_line(request), ALIASES)
    assert from_json == from_proto
    return from_proto


def test_spans_from_the_sdk_exporter_decode_to_normalised_events():
    resource = Resource.create(
        {"user": "alice@example.com", "team": "payments", "repo": "billing", "session.id": "s-1"}
    )
    with CaptureServer() as server:
        provider = TracerProvider(resource=resource)
        exporter = OTLPSpanExporter(endpoint=f"{server.url}/v1/traces")
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("claude-code-wrapper", "1.2.3")
        with tracer.start_as_current_span("claude.invoke") as span:
            span.set_attribute("model", "us.anthropic.claude-sonnet-4-5-20250929-v1:0")
            span.set_attribute("region", "us-east-1")
            span.set_attribute("tokens_in", 1200)
            span.set_attribute("tokens_out", 340)
            span.set_attribute("cost_estimate", 0.0087)
            span.set_attribute("cache_hit", False)
            span.set_attribute("workflow", "bugfix")
            span.set_attribute("step", "plan")
            with tracer.start_as_current_span("shell.run") as child:
                child.set_attribute("command", "pytest -q")
                child.set_attribute("exit_code", 1)
                child.set_attribute("error.type", "NonZeroExit")
                child.set_status(Status(StatusCode.ERROR, "exit 1"))
        provider.shutdown()
    bodies = [body for path, ctype, body in server.requests if path == "/v1/traces"]
    assert bodies and all(
        ctype == "application/x-protobuf" for p, ctype, _ in server.requests if p == "/v1/traces"
    )
    events = [e for body in bodies for e in _both_ways_traces(body)]
    by_name = {e["name"]: e for e in events}
    invoke, shell = by_name["claude.invoke"], by_name["shell.run"]

    assert invoke["kind"] == "span" and invoke["status"] == "ok"
    assert invoke["user"] == "alice@example.com" and invoke["team"] == "payments"
    assert invoke["repo"] == "billing" and invoke["session"] == "s-1"
    assert invoke["model"] == "anthropic.claude-sonnet-4-5"
    assert invoke["model_id"] == "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert invoke["model.profile"] == "us" and invoke["model.version"] == "4.5"
    assert (invoke["tokens_in"], invoke["tokens_out"]) == (1200, 340)
    assert invoke["cost"] == pytest.approx(0.0087) and invoke["cache_hit"] is False
    assert invoke["latency_ms"] >= 0 and len(invoke["trace_id"]) == 32
    assert shell["parent_span_id"] == invoke["span_id"] and shell["trace_id"] == invoke["trace_id"]
    assert shell["status"] == "error" and shell["error_type"] == "NonZeroExit"
    assert shell["command"] == "pytest -q" and shell["exit_code"] == 1
    # resource attributes are merged into every event, the record's own win
    assert shell["user"] == "alice@example.com" and shell["service.name"].startswith(
        "unknown_service"
    )


def test_claude_code_log_events_from_the_sdk_fill_the_canonical_keys():
    resource = Resource.create(
        {"service.name": "claude-code", "team": "platform", "department": "engineering"}
    )
    with CaptureServer() as server:
        provider = LoggerProvider(resource=resource)
        provider.add_log_record_processor(
            SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{server.url}/v1/logs"))
        )
        logger = provider.get_logger("com.anthropic.claude_code")
        common = {
            "user.email": "bob@example.com",
            "user.account_uuid": "7f0c",
            "session.id": "sess-9",
            "organization.id": "org-1",
        }
        logger.emit(
            timestamp=1_764_298_800_000_000_000,
            severity_number=SeverityNumber.INFO,
            body="claude_code.api_request",
            attributes={
                **common,
                "event.name": "api_request",
                "model": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
                "cost_usd": 0.0123,
                "input_tokens": "1500",
                "output_tokens": "200",
                "cache_read_tokens": "1000",
                "duration_ms": "2345",
            },
        )
        logger.emit(
            timestamp=1_764_298_801_000_000_000,
            body="claude_code.tool_result",
            attributes={
                **common,
                "event.name": "tool_result",
                "tool_name": "Bash",
                "success": "false",
                "tool_parameters": orjson.dumps({"bash_command": "curl -k https://x"}).decode(),
            },
        )
        logger.emit(
            timestamp=1_764_298_802_000_000_000,
            body="claude_code.api_error",
            attributes={**common, "event.name": "api_error", "error": "ThrottlingException"},
        )
        provider.shutdown()
    events = []
    for path, _ctype, body in server.requests:
        assert path == "/v1/logs"
        from_proto = decode_logs_bytes(body, ALIASES)
        request = ExportLogsServiceRequest()
        request.ParseFromString(body)
        assert decode_line(_as_json_line(request), ALIASES) == from_proto
        events.extend(from_proto)
    by_name = {e["name"]: e for e in events}
    api = by_name["claude_code.api_request"]
    assert api["kind"] == "log" and api["time"] == pytest.approx(1_764_298_800.0)
    assert api["user"] == "bob@example.com" and api["session"] == "sess-9"
    assert api["team"] == "platform" and api["model"] == "anthropic.claude-haiku-4-5"
    assert api["model_id"].startswith("us.anthropic.claude-haiku")
    assert api["cost"] == pytest.approx(0.0123)
    # input_tokens is the uncached part: the prompt is it plus the 1000 read from the cache
    assert (api["tokens_in"], api["tokens_out"], api["latency_ms"]) == (2500, 200, 2345.0)
    assert api["cache_hit"] is True
    tool = by_name["claude_code.tool_result"]
    assert tool["status"] == "error" and tool["command"] == "curl -k https://x"
    err = by_name["claude_code.api_error"]
    assert err["status"] == "error" and err["error_type"] == "ThrottlingException"


def test_every_anyvalue_kind_decodes_from_otlp_json():
    line = orjson.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": [{"key": "user", "value": {"stringValue": "u"}}]},
                    "scopeSpans": [
                        {
                            "scope": {"name": "s"},
                            "spans": [
                                {
                                    "traceId": "5b8efff798038103d269b633813fc60c",
                                    "spanId": "eee19b7ec3c1b174",
                                    "name": "claude.invoke",
                                    "kind": 1,
                                    "startTimeUnixNano": "1544712660000000000",
                                    "endTimeUnixNano": "1544712661000000000",
                                    "attributes": [
                                        {"key": "i", "value": {"intValue": "42"}},
                                        {"key": "d", "value": {"doubleValue": 1.5}},
                                        {"key": "b", "value": {"boolValue": True}},
                                        {
                                            "key": "a",
                                            "value": {
                                                "arrayValue": {
                                                    "values": [
                                                        {"stringValue": "x"},
                                                        {"intValue": "2"},
                                                    ]
                                                }
                                            },
                                        },
                                        {
                                            "key": "kv",
                                            "value": {
                                                "kvlistValue": {
                                                    "values": [
                                                        {
                                                            "key": "inner",
                                                            "value": {"stringValue": "y"},
                                                        },
                                                        {
                                                            "key": "deep",
                                                            "value": {
                                                                "kvlistValue": {
                                                                    "values": [
                                                                        {
                                                                            "key": "z",
                                                                            "value": {
                                                                                "doubleValue": "NaN"
                                                                            },
                                                                        }
                                                                    ]
                                                                }
                                                            },
                                                        },
                                                    ]
                                                }
                                            },
                                        },
                                        {"key": "raw", "value": {"bytesValue": "AQI="}},
                                        {"key": "empty", "value": {}},
                                    ],
                                    "status": {"code": 2},
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )
    (event,) = decode_line(line, ALIASES)
    assert event["i"] == 42 and event["d"] == 1.5 and event["b"] is True
    assert event["a"] == ["x", 2] and event["kv.inner"] == "y"
    assert event["kv.deep.z"] != event["kv.deep.z"]  # NaN
    assert event["raw"] == "AQI=" and event["empty"] is None
    assert event["status"] == "error" and event["latency_ms"] == 1000.0
    assert event["trace_id"] == "5b8efff798038103d269b633813fc60c"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"hello": "world"}', "not OTLP"),
        (b'{"resourceSpans": {"a": 1}}', "resourceSpans must be a list"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x", "traceId": "zz"}]}]}]}',
            "neither hex nor base64",
        ),
        (
            b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "soon"}]}]}]}',
            "not an integer",
        ),
        (
            b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": [1, 2]}]}]}]}',
            r"timestamp \[1, 2\] is not an integer",
        ),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x", "attributes": [{"value": {}}]}]}]}]}',
            "without a key",
        ),
        (b'{"time": "yesterday"}', "not a time"),
    ],
)
def test_bad_lines_are_refused_with_a_reason(line, reason):
    with pytest.raises(DecodeError, match=reason):
        decode_line(line, ALIASES)


def test_the_alias_table_is_configurable_and_the_first_alias_wins():
    aliases = AliasTable({"user": ["github.login"]})
    (event,) = decode_line(
        orjson.dumps({"time": 1, "github.login": "octo", "user.email": "o@x", "cost_usd": "0.5"}),
        aliases,
    )
    assert event["user"] == "octo" and event["cost"] == 0.5
    assert "github.login" in aliases.known_fields()
    with pytest.raises(ValueError, match="unknown canonical key"):
        AliasTable({"usr": ["x"]})


def test_a_flat_record_with_attribute_maps_fills_the_canonical_keys():
    """Exports of spans to tables (Parquet from the Collector's S3 path, a warehouse) keep
    attributes as maps; their entries count like OTLP attributes, the record's own first."""
    from engine.otlp.aliases import AliasTable

    record = {
        "time": "2026-11-02T10:00:00Z",
        "name": "claude.invoke",
        "region": "us-east-1",
        "attributes": {"user.email": "ann@example.com", "region": "eu-west-1", "cost": 0.5},
        "resource_attributes": {"team": "payments", "service.name": "claude-code"},
    }
    [event] = decode_object(record, AliasTable())
    assert event["user"] == "ann@example.com"
    assert event["team"] == "payments"
    assert event["region"] == "us-east-1", "the record's own column wins"
    assert event["cost"] == 0.5
    assert "attributes" not in event and "resource_attributes" not in event


def test_claude_code_cache_reads_say_whether_the_call_hit_the_prompt_cache():
    def request(read: str) -> dict:
        attrs = [{"key": "cache_read_tokens", "value": {"stringValue": read}}]
        record = {"timeUnixNano": "1", "body": {"stringValue": "claude_code.api_request"},
                  "attributes": attrs}  # fmt: skip
        return {"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]}

    [hit] = decode_object(request("5120"), AliasTable())
    [miss] = decode_object(request("0"), AliasTable())
    assert hit["cache_hit"] is True and miss["cache_hit"] is False
