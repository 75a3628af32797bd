"""The simulator's history, spans and Claude Code log events, decodes completely."""

from __future__ import annotations

import gzip

from engine.otlp.aliases import AliasTable
from engine.otlp.line_decoder import decode_line
from replay.simulator.simulate import SimulationSpec, simulate

ALIASES = AliasTable()
SPAN_KEYS = {"user", "team", "repo", "workflow", "step", "session"}


def test_simulated_spans_and_claude_code_events_fill_the_canonical_keys(tmp_path):
    path = tmp_path / "h.jsonl.gz"
    summary = simulate(SimulationSpec(days=1, users=12, seed=4, claude_code_logs=True), path)
    with gzip.open(path) as lines:
        events = [e for line in lines for e in decode_line(line, ALIASES)]
    assert len(events) == summary.spans + summary.log_records
    spans = [e for e in events if e["kind"] == "span"]
    logs = [e for e in events if e["kind"] == "log"]
    assert spans and logs
    for e in spans:
        assert e.keys() >= SPAN_KEYS, e
        assert e["status"] in ("ok", "error")
    invokes = [e for e in spans if e["name"] == "claude.invoke"]
    assert invokes and all(
        isinstance(e["cost"], float)
        and isinstance(e["tokens_in"], int)
        and e["model"]
        and e["region"]
        for e in invokes
    )
    requests = [e for e in logs if e["name"] == "claude_code.api_request"]
    assert requests and all(
        e["user"]
        and e["model"]
        and isinstance(e["cost"], float)
        and isinstance(e["tokens_in"], int)
        and isinstance(e["tokens_out"], int)
        and isinstance(e["latency_ms"], float)
        for e in requests
    )
    tools = [e for e in logs if e["name"] == "claude_code.tool_result"]
    assert any(e.get("command") for e in tools)
    assert {e["name"] for e in logs} <= {
        "claude_code.api_request",
        "claude_code.api_error",
        "claude_code.tool_result",
        "claude_code.tool_decision",
        "claude_code.user_prompt",
    }
