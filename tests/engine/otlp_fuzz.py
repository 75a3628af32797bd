"""Hypothesis strategies for hostile OTLP requests: random bytes, mutated valid protobuf, and
OTLP/JSON shaped like the real thing but with extreme or wrongly typed values anywhere."""

from __future__ import annotations

import json
import time

from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def valid_trace_request() -> bytes:
    """A real ExportTraceServiceRequest from the SDK: two spans with the usual attributes."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"user": "fuzz", "team": "qa"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("fuzz")
    with tracer.start_as_current_span("claude.invoke") as span:
        span.set_attribute("model", "us.anthropic.claude-sonnet-4-5")
        span.set_attribute("tokens_in", 1234)
        span.set_attribute("cost_estimate", 0.02)
        span.set_attribute("cache_hit", False)
        with tracer.start_as_current_span("shell.run") as inner:
            inner.set_attribute("command", "ls -la")
            inner.set_attribute("exit_code", 0)
    provider.shutdown()
    return encode_spans(memory.get_finished_spans()).SerializeToString()


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """`original` with bytes flipped, inserted, deleted, or cut short."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "varint"]))
        if action == "flip":
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif action == "truncate":
            del data[at:]
        else:  # a length or tag that claims far more than follows
            data[at:at] = b"\xff\xff\xff\xff\x0f"
    return bytes(data)


huge_ints = st.one_of(
    st.integers(-(2**64), 2**64),
    st.integers(-(10**400), 10**400),
    st.sampled_from([2**63, -(2**63) - 1, 2**64 - 1, 10**310]),
)
json_ints = st.integers(-(2**63), 2**64 - 1)  # what a JSON parser takes as an integer
anything = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        json_ints,
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=10),
        st.sampled_from(["", "-", "1e5", "0x10", " 12", "NaN", "Infinity", "9" * 5000]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
scalar = st.one_of(
    st.fixed_dictionaries({"stringValue": st.text(max_size=20)}),
    st.fixed_dictionaries({"intValue": st.one_of(st.integers(-5, 5000).map(str), huge_ints.map(str), json_ints)}),
    st.fixed_dictionaries({"doubleValue": st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                                                    st.sampled_from(["NaN", "Infinity", "-Infinity"]))}),
    st.fixed_dictionaries({"boolValue": st.booleans()}),
    st.fixed_dictionaries({"bytesValue": st.sampled_from(["", "AAEC", "3q2+7w=="])}),
    st.just({}),
)  # fmt: skip
any_value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.fixed_dictionaries({"arrayValue": st.fixed_dictionaries({"values": st.lists(inner, max_size=3)})}),
        st.fixed_dictionaries({"kvlistValue": st.fixed_dictionaries(
            {"values": st.lists(st.fixed_dictionaries({"key": st.text(max_size=6), "value": inner}), max_size=3)})}),
    ),
    max_leaves=6,
)  # fmt: skip
attribute_names = st.sampled_from(
    ["user", "team", "repo", "model", "tokens_in", "tokens_out", "cost_estimate", "latency_ms",
     "cache_hit", "command", "exit_code", "session.id", "tool_parameters", "event.name", "x"]
)  # fmt: skip
attributes = st.lists(
    st.fixed_dictionaries({"key": attribute_names, "value": any_value}), max_size=6
)
timestamps = st.one_of(
    st.just("NOW"),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1).map(str),
    st.sampled_from(["NOW", "NOW", "NOW", str(2**64 - 1), "9" * 400, "1"]),
)
trace_ids = st.sampled_from(["0af7651916cd43dd8448eb211c80319c", "", "CvdlGRbNQ92ESOshHIAxnA=="])
span_ids = st.sampled_from(["b7ad6b7169203331", "", "t61rcWkgMzE="])
span = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["claude.invoke", "shell.run", "assertion", ""]),
        "startTimeUnixNano": timestamps,
        "endTimeUnixNano": timestamps,
        "attributes": attributes,
    },
    optional={
        "traceId": trace_ids,
        "spanId": span_ids,
        "parentSpanId": span_ids,
        "status": st.fixed_dictionaries(
            {
                "code": st.sampled_from([0, 1, 2, "STATUS_CODE_ERROR"]),
                "message": st.text(max_size=10),
            }
        ),
    },
)
log_record = st.fixed_dictionaries(
    {"timeUnixNano": timestamps, "attributes": attributes},
    optional={
        "observedTimeUnixNano": timestamps,
        "body": any_value,
        "eventName": st.text(max_size=20),
        "severityNumber": st.integers(0, 24),
        "traceId": trace_ids,
        "spanId": span_ids,
    },
)


def _request(
    key: str, scope_key: str, items_key: str, items: st.SearchStrategy
) -> st.SearchStrategy:
    scope = st.fixed_dictionaries(
        {items_key: st.lists(items, max_size=4)},
        optional={"scope": st.fixed_dictionaries({"attributes": attributes})},
    )
    resource = st.fixed_dictionaries(
        {scope_key: st.lists(scope, max_size=2)},
        optional={"resource": st.fixed_dictionaries({"attributes": attributes})},
    )
    return st.fixed_dictionaries({key: st.lists(resource, max_size=2)})


trace_json = _request("resourceSpans", "scopeSpans", "spans", span)
logs_json = _request("resourceLogs", "scopeLogs", "logRecords", log_record)


def _nodes(tree: object, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(tree, dict):
        for key, value in tree.items():
            found += _nodes(value, (*path, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found += _nodes(value, (*path, index))
    return found


@st.composite
def broken(draw: st.DrawFn, requests: st.SearchStrategy) -> object:
    """A well-shaped request with one value, anywhere in it, replaced by any JSON value."""
    request = draw(requests)
    path = draw(st.sampled_from(_nodes(request)))
    replacement = draw(anything)
    if not path:
        return replacement
    parent = request
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = replacement
    return request


def to_json(request: object) -> bytes:
    """The request as JSON bytes (integers of any size as numbers), "NOW" standing for the
    current time in nanoseconds."""
    text = json.dumps(request).encode()
    return text.replace(b'"NOW"', str(time.time_ns()).encode())


@st.composite
def proto_trace_request(draw: st.DrawFn) -> bytes:
    """ExportTraceServiceRequest bytes with extreme values wherever protobuf can carry them."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    now = time.time_ns()
    times = st.one_of(st.just(now), st.integers(0, 2**64 - 1), st.sampled_from([0, 1, 2**64 - 1]))
    for _ in range(draw(st.integers(0, 2))):
        scope = request.resource_spans.add().scope_spans.add()
        for _ in range(draw(st.integers(0, 3))):
            span = scope.spans.add()
            span.name = draw(st.sampled_from(["claude.invoke", "shell.run", ""]))
            span.start_time_unix_nano = draw(times)
            span.end_time_unix_nano = draw(times)
            span.trace_id = draw(st.binary(max_size=17))
            span.span_id = draw(st.binary(max_size=9))
            for key in draw(st.lists(attribute_names, max_size=5)):
                attr = span.attributes.add()
                attr.key = key
                kind = draw(st.sampled_from(["int", "double", "string", "bool", "array"]))
                if kind == "int":
                    attr.value.int_value = draw(st.integers(-(2**63), 2**63 - 1))
                elif kind == "double":
                    attr.value.double_value = draw(st.floats())
                elif kind == "string":
                    attr.value.string_value = draw(st.text(max_size=30))
                elif kind == "bool":
                    attr.value.bool_value = draw(st.booleans())
                else:
                    for value in draw(st.lists(st.floats(), max_size=3)):
                        attr.value.array_value.values.add().double_value = value
    return request.SerializeToString()
