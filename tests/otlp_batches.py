"""OTLP/JSON requests written by hand, as a team's Collector exports them in batches."""

from __future__ import annotations

import random
from collections.abc import Iterable

import orjson


def attributes(values: dict) -> list[dict]:
    """OTLP/JSON attributes of plain values (texts, ints, floats)."""
    typed = {str: "stringValue", int: "intValue", float: "doubleValue"}
    return [{"key": k, "value": {typed[type(v)]: v}} for k, v in values.items()]


def team_batches(
    style: str, items: Iterable[tuple[float, str, dict]], rng: random.Random
) -> list[bytes]:
    """Per team and five-minute batch one request, its records (`(time, team, record)`)
    shuffled, the batches in time order: Claude Code's log records (`logs`, the team on the
    resource, as managed settings put it) or the wrapper's spans (`spans`)."""
    batches: dict[tuple[int, str], list] = {}
    for t, team, record in items:
        batches.setdefault((int(t // 300), team), []).append(record)
    lines = []
    for (_, team), records in sorted(batches.items()):
        rng.shuffle(records)
        if style == "logs":
            resource = {"attributes": attributes({"service.name": "claude-code", "team": team})}
            scope = {"name": "com.anthropic.claude_code.events"}
            obj = {"resourceLogs": [{"resource": resource,
                                     "scopeLogs": [{"scope": scope, "logRecords": records}]}]}  # fmt: skip
        else:
            resource = {"attributes": attributes({"service.name": "claude-bedrock-wrapper"})}
            obj = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": records}]}]}
        lines.append(orjson.dumps(obj))
    return lines
