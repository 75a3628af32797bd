"""Random events -> OTLP (official proto classes; both JSON encodings) -> decode -> same event."""

from __future__ import annotations

import math

import orjson
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from engine.otlp.aliases import AliasTable
from engine.otlp.line_decoder import decode_line
from engine.otlp.proto_decoder import decode_logs_request, decode_trace_request

ALIASES = AliasTable()
ALIAS_SOURCES = ALIASES.known_fields()

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
scalar = st.one_of(
    text,
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
extra_key = st.from_regex(r"x\.[a-z]{1,6}(\.[a-z]{1,4})?", fullmatch=True)

contract = st.fixed_dictionaries(
    {},
    optional={
        "user": text,
        "team": text,
        "repo": text,
        "workflow": text,
        "step": text,
        "session.id": text,
        "model": text,
        "region": text,
        "tokens_in": st.integers(0, 10**7),
        "tokens_out": st.integers(0, 10**7),
        "latency_ms": st.floats(0, 1e6),
        "cache_hit": st.booleans(),
        "cost_estimate": st.floats(0, 1e3),
        "command": text,
        "error.type": text,
    },
)


def to_any(value, av: AnyValue) -> None:
    if isinstance(value, bool):
        av.bool_value = value
    elif isinstance(value, int):
        av.int_value = value
    elif isinstance(value, float):
        av.double_value = value
    elif isinstance(value, list):
        av.array_value.SetInParent()
        for v in value:
            to_any(v, av.array_value.values.add())
    else:
        av.string_value = value


def add_attrs(target, attrs: dict) -> None:
    for key, value in attrs.items():
        kv: KeyValue = target.add()
        kv.key = key
        to_any(value, kv.value)


def expected_event(attrs: dict, resource: dict, **fields) -> dict:
    merged = {**resource, **attrs}
    event = dict(merged)
    renames = {"session.id": "session", "cost_estimate": "cost", "error.type": "error_type"}
    for key, value in merged.items():
        if key in renames and value != "":  # an empty attribute fills no canonical key
            event[renames[key]] = value
    event.update(fields)
    # the model's canonical name and parts, its spelling kept in model_id (test_model_identity)
    return ALIASES.settle_model(event)


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, float) and isinstance(y, float):
            assert x == y or (math.isnan(x) and math.isnan(y)), key
        else:
            assert x == y, key


@settings(max_examples=120, deadline=None)
@given(
    attrs=contract,
    extra=st.dictionaries(extra_key, st.one_of(scalar, st.lists(scalar, max_size=3)), max_size=4),
    resource=st.dictionaries(st.sampled_from(["user", "team", "repo", "x.res"]), text, max_size=3),
    name=st.sampled_from(["claude.invoke", "cache.lookup", "shell.run", "assertion", "pr.create"]),
    start=st.integers(1_600_000_000 * 10**9, 1_900_000_000 * 10**9),
    duration=st.integers(0, 10**12),
    error=st.booleans(),
    ids=st.tuples(st.binary(min_size=16, max_size=16), st.binary(min_size=8, max_size=8)),
)
def test_spans_round_trip(attrs, extra, resource, name, start, duration, error, ids):
    trace_id, span_id = ids
    if not any(trace_id):
        trace_id = b"\x01" + trace_id[1:]
    if not any(span_id):
        span_id = b"\x01" + span_id[1:]
    own = {**attrs, **extra}
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    add_attrs(rs.resource.attributes, resource)
    span = rs.scope_spans.add().spans.add()
    span.name, span.trace_id, span.span_id = name, trace_id, span_id
    span.start_time_unix_nano, span.end_time_unix_nano = start, start + duration
    if error:
        span.status.code = Status.STATUS_CODE_ERROR
    add_attrs(span.attributes, own)

    fields = {
        "time": (start + duration) / 1e9,
        "kind": "span",
        "name": name,
        "trace_id": trace_id.hex(),
        "span_id": span_id.hex(),
        "parent_span_id": None,
        "status": "error" if error else "ok",
    }
    if "latency_ms" not in own:
        fields["latency_ms"] = duration / 1e6
    expected = expected_event(own, resource, **fields)

    from_proto = decode_trace_request(request, ALIASES)
    canonical_json = json_format.MessageToJson(request, indent=None)
    from_canonical_json = decode_line(canonical_json, ALIASES)
    # the Collector's file exporter: hex ids, enums as integers
    hexed = orjson.loads(canonical_json)
    s = hexed["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    s["traceId"], s["spanId"] = trace_id.hex(), span_id.hex()
    if error:
        s["status"]["code"] = 2
    from_file_exporter = decode_line(orjson.dumps(hexed), ALIASES)
    for decoded in (from_proto, from_canonical_json, from_file_exporter):
        assert len(decoded) == 1
        assert_same(decoded[0], expected)


@settings(max_examples=60, deadline=None)
@given(
    attrs=st.dictionaries(extra_key, scalar, max_size=4),
    user=text,
    cost=st.floats(0, 100),
    tokens=st.integers(0, 10**6),
    cached=st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)),
    t=st.integers(1_600_000_000 * 10**9, 1_900_000_000 * 10**9),
)
def test_claude_code_log_records_round_trip(attrs, user, cost, tokens, cached, t):
    """`input_tokens` is the uncached input: `tokens_in`, the prompt, adds cache reads and
    writes, and a call that read from the cache hit it."""
    read, written = cached
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    add_attrs(rl.resource.attributes, {"service.name": "claude-code"})
    record = rl.scope_logs.add().log_records.add()
    record.time_unix_nano = t
    record.body.string_value = "claude_code.api_request"
    own = {
        **attrs,
        "event.name": "api_request",
        "user.email": user,
        "cost_usd": cost,
        "input_tokens": tokens,
        "cache_read_tokens": str(read),  # Claude Code sends every attribute as text
        "cache_creation_tokens": written,
    }
    add_attrs(record.attributes, own)
    expected = {
        "service.name": "claude-code",
        **own,
        **({"user": user} if user else {}),
        "cost": cost,
        "tokens_in": tokens + read + written,
        "cache_hit": read > 0,
        "time": t / 1e9,
        "kind": "log",
        "name": "claude_code.api_request",
        "trace_id": None,
        "span_id": None,
        "parent_span_id": None,
        "status": "ok",
    }
    (from_proto,) = decode_logs_request(request, ALIASES)
    (from_json,) = decode_line(json_format.MessageToJson(request, indent=None), ALIASES)
    assert_same(from_proto, expected)
    assert_same(from_json, expected)
