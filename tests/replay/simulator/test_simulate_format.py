"""The simulator writes OTLP/JSON as the specification encodes it, deterministically by seed."""

from __future__ import annotations

import gzip
import re
from collections import Counter
from pathlib import Path

import orjson

from replay.readers import HistoryFile, read_lines
from replay.simulator.simulate import SimulationSpec, simulate
from tests.replay.conftest import Simulated
from tests.replay.otlp_view import official_events, parse_line

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
DECIMAL = re.compile(r"^[1-9][0-9]*$")
CONTRACT_SPANS = {"claude.invoke", "cache.lookup", "shell.run", "assertion", "pr.create"}
CLAUDE_CODE_EVENTS = {
    "claude_code.api_request",
    "claude_code.api_error",
    "claude_code.tool_result",
    "claude_code.tool_decision",
    "claude_code.user_prompt",
}


def raw_lines(path: Path) -> list[bytes]:
    return [line for _, line in read_lines(HistoryFile(str(path), str(path)))]


def test_every_line_parses_with_the_official_otlp_classes(day_with_logs: Simulated) -> None:
    kinds = Counter()
    for line in raw_lines(day_with_logs.path):
        kinds[type(parse_line(line)).__name__] += 1
    assert kinds["ExportTraceServiceRequest"] > 0
    assert kinds["ExportLogsServiceRequest"] > 0
    assert sum(kinds.values()) == day_with_logs.summary.lines


def test_the_official_reading_and_a_plain_json_reading_agree(day_with_logs: Simulated) -> None:
    official = list(official_events(day_with_logs.path))
    assert len(official) == day_with_logs.summary.spans + day_with_logs.summary.log_records
    assert official == day_with_logs.events


def test_ids_times_and_values_use_the_otlp_json_encoding(day_with_logs: Simulated) -> None:
    spans = 0
    for line in raw_lines(day_with_logs.path):
        message = orjson.loads(line)
        for rs in message.get("resourceSpans", []):
            for ss in rs["scopeSpans"]:
                assert set(ss["scope"]) == {"name", "version"}
                for span in ss["spans"]:
                    spans += 1
                    assert HEX32.match(span["traceId"]) and span["traceId"] != "0" * 32
                    assert HEX16.match(span["spanId"])
                    assert "parentSpanId" not in span or HEX16.match(span["parentSpanId"])
                    assert DECIMAL.match(span["startTimeUnixNano"])
                    assert DECIMAL.match(span["endTimeUnixNano"])
                    assert int(span["startTimeUnixNano"]) <= int(span["endTimeUnixNano"])
                    assert span["kind"] in (1, 3)
                    assert span["name"] in CONTRACT_SPANS
                    for attribute in span["attributes"]:
                        ((kind, value),) = attribute["value"].items()
                        assert kind in ("stringValue", "intValue", "doubleValue", "boolValue")
                        if kind == "intValue":
                            assert isinstance(value, str) and re.match(r"^-?[0-9]+$", value)
                    if "status" in span:
                        assert span["status"]["code"] == 2 and span["status"]["message"]
        for rl in message.get("resourceLogs", []):
            for sl in rl["scopeLogs"]:
                for record in sl["logRecords"]:
                    assert DECIMAL.match(record["timeUnixNano"])
                    assert record["body"]["stringValue"] in CLAUDE_CODE_EVENTS
    assert spans == day_with_logs.summary.spans


def test_every_span_carries_the_contract_attributes(day_with_logs: Simulated) -> None:
    spans = [e for e in day_with_logs.events if e["kind"] == "span"]
    for event in spans:
        for key in ("user", "team", "repo", "workflow", "step", "session.id"):
            assert isinstance(event.get(key), str) and event[key], (key, event)
    for event in (e for e in spans if e["name"] == "claude.invoke"):
        for key in ("model", "region", "tokens_in", "tokens_out", "latency_ms", "cost_estimate"):
            assert key in event
        assert isinstance(event["cache_hit"], bool)
        assert (event["status"] == "error") == ("error.type" in event)


def test_a_line_holds_one_resource_per_session(day_with_logs: Simulated) -> None:
    for line in raw_lines(day_with_logs.path):
        message = orjson.loads(line)
        for key in ("resourceSpans", "resourceLogs"):
            sessions = [
                next(a for a in r["resource"]["attributes"] if a["key"] == "session.id")
                for r in message.get(key, [])
                if any(a["key"] == "session.id" for a in r["resource"]["attributes"])
            ]
            assert len(sessions) == len({s["value"]["stringValue"] for s in sessions})


def test_lines_come_in_event_time_order_in_ten_second_batches(week: Simulated) -> None:
    previous_window = 0
    for line in raw_lines(week.path):
        ends = [
            int(span["endTimeUnixNano"])
            for rs in orjson.loads(line)["resourceSpans"]
            for ss in rs["scopeSpans"]
            for span in ss["spans"]
        ]
        window = min(ends) // 10_000_000_000
        assert max(ends) // 10_000_000_000 == window, "one line is one 10 s batch"
        assert window >= previous_window
        previous_window = window


def test_spans_form_traces_whose_parents_exist(day_with_logs: Simulated) -> None:
    ids, parents = set(), []
    for line in raw_lines(day_with_logs.path):
        for rs in orjson.loads(line).get("resourceSpans", []):
            for span in rs["scopeSpans"][0]["spans"]:
                ids.add((span["traceId"], span["spanId"]))
                if "parentSpanId" in span:
                    parents.append((span["traceId"], span["parentSpanId"]))
    assert parents
    assert all(parent in ids for parent in parents)


def test_claude_code_events_mirror_the_spans(day_with_logs: Simulated) -> None:
    logs = Counter(e["name"] for e in day_with_logs.events if e["kind"] == "log")
    spans = Counter(e["name"] for e in day_with_logs.events if e["kind"] == "span")
    assert logs["claude_code.api_request"] + logs["claude_code.api_error"] == spans["claude.invoke"]
    assert (
        logs["claude_code.tool_result"] == logs["claude_code.tool_decision"] == spans["shell.run"]
    )
    assert logs["claude_code.user_prompt"] > 0
    for event in (e for e in day_with_logs.events if e["kind"] == "log"):
        assert event["service.name"] == "claude-code"
        assert event["team"] and event["department"]
        for key in (
            "event.name",
            "session.id",
            "user.email",
            "user.account_uuid",
            "organization.id",
        ):
            assert event[key]
        assert event["name"] == f"claude_code.{event['event.name']}"
        if event["name"] == "claude_code.api_request":
            assert float(event["cost_usd"]) >= 0 and int(event["input_tokens"]) >= 0
            assert event["model"] and int(event["duration_ms"]) > 0
        if event["name"] == "claude_code.tool_result":
            assert event["tool_name"] == "Bash" and event["success"] in ("true", "false")
            assert orjson.loads(event["tool_parameters"])["full_command"]


def test_claude_code_costs_add_up_to_the_span_costs(day_with_logs: Simulated) -> None:
    span_cost = sum(
        e["cost_estimate"] for e in day_with_logs.events if e["name"] == "claude.invoke"
    )
    log_cost = sum(
        float(e["cost_usd"]) for e in day_with_logs.events if e["name"] == "claude_code.api_request"
    )
    assert span_cost > 0
    assert abs(span_cost - log_cost) < 1e-6 * len(day_with_logs.events)


def test_the_same_seed_gives_byte_identical_output(tmp_path: Path) -> None:
    spec = SimulationSpec(days=1, users=15, seed=11, claude_code_logs=True)
    first = simulate(spec, tmp_path / "a.jsonl.gz", tmp_path / "a.truth")
    second = simulate(spec, tmp_path / "b.jsonl.gz", tmp_path / "b.truth")
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()
    assert (tmp_path / "a.truth").read_bytes() == (tmp_path / "b.truth").read_bytes()
    assert first.spans == second.spans > 0


def test_gzip_output_holds_the_same_lines_as_plain_output(tmp_path: Path) -> None:
    spec = SimulationSpec(days=1, users=10, seed=5)
    simulate(spec, tmp_path / "plain.jsonl")
    simulate(spec, tmp_path / "packed.jsonl.gz")
    packed = (tmp_path / "packed.jsonl.gz").read_bytes()
    assert packed[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed) == (tmp_path / "plain.jsonl").read_bytes()


def test_another_seed_gives_other_traffic(tmp_path: Path) -> None:
    simulate(SimulationSpec(days=1, users=10, seed=1), tmp_path / "one.jsonl")
    simulate(SimulationSpec(days=1, users=10, seed=2), tmp_path / "two.jsonl")
    assert (tmp_path / "one.jsonl").read_bytes() != (tmp_path / "two.jsonl").read_bytes()


def test_turning_claude_code_logs_on_leaves_the_spans_unchanged(tmp_path: Path) -> None:
    simulate(SimulationSpec(days=1, users=10, seed=4), tmp_path / "spans.jsonl")
    with_logs = SimulationSpec(days=1, users=10, seed=4, claude_code_logs=True)
    simulate(with_logs, tmp_path / "both.jsonl")
    both = raw_lines(tmp_path / "both.jsonl")
    assert [line for line in both if line.startswith(b'{"resourceSpans"')] == raw_lines(
        tmp_path / "spans.jsonl"
    )
    assert any(line.startswith(b'{"resourceLogs"') for line in both)
