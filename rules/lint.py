"""Warnings about fields a rule reads that the normalised event is not known to carry."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from .config import RulesConfig
from .loader import RuleDoc
from .model import RuleProblem

# The normalised event's canonical keys (docs/events.md).
CANONICAL_KEYS = frozenset(
    [
        "time",
        "kind",
        "name",
        "trace_id",
        "span_id",
        "parent_span_id",
        "session",
        "user",
        "team",
        "repo",
        "workflow",
        "step",
        "model",
        "region",
        "tokens_in",
        "tokens_out",
        "latency_ms",
        "cache_hit",
        "cost",
        "command",
        "status",
        "error_type",
    ]
)

# Attributes the span contract and Claude Code's own telemetry are documented to carry.
CONTRACT_ATTRIBUTES = frozenset(
    [
        "exit_code",
        "assertion.name",
        "assertion.passed",
        "pr.base",
        "pr.url",
        "pr.title",
        "error.type",
        "session.id",
        "cost_estimate",
        "cost_usd",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_creation_tokens",
        "duration_ms",
        "tool_name",
        "success",
        "decision",
        "prompt",
        "prompt_length",
        "event.name",
        "user.email",
        "user.account_uuid",
        "organization.id",
        "department",
        "bash_command",
        "full_command",
    ]
)


def unknown_field_problems(
    docs: list[RuleDoc], known_fields: Collection[str], config: RulesConfig
) -> list[RuleProblem]:
    """One warning per unknown field per rule, at the line where it is written."""
    known = set(known_fields) | CANONICAL_KEYS | CONTRACT_ATTRIBUTES | set(config.aliases)
    problems: list[RuleProblem] = []
    for doc in docs:
        aliases = _correlation_aliases(doc)
        reported: set[str] = set()
        for field, keys in _fields(doc):
            if field in known or field in aliases or field in reported:
                continue
            reported.add(field)
            problems.append(
                doc.problem(
                    f"unknown field {field!r}: not a key of the normalised event or a "
                    "configured alias, so it matches only events that carry such an attribute",
                    *keys,
                    severity="warning",
                )
            )
    return problems


def _correlation_aliases(doc: RuleDoc) -> set[str]:
    correlation = doc.data.get("correlation")
    if isinstance(correlation, dict) and isinstance(correlation.get("aliases"), dict):
        return set(correlation["aliases"])
    return set()


def _fields(doc: RuleDoc) -> Iterator[tuple[str, tuple[Any, ...]]]:
    for section in ("detection", "filter"):
        detection = doc.data.get(section)
        if not isinstance(detection, dict):
            continue
        for name, definition in detection.items():
            if name in ("condition", "rules"):
                continue
            maps: list[tuple[dict[Any, Any], tuple[Any, ...]]]
            if isinstance(definition, dict):
                maps = [(definition, (name,))]
            elif isinstance(definition, list):
                maps = [(d, (name, i)) for i, d in enumerate(definition) if isinstance(d, dict)]
            else:
                maps = []
            for mapping, keys in maps:
                for key, value in mapping.items():
                    field, *modifiers = str(key).split("|")
                    if field:
                        yield field, (section, *keys, key)
                    if "fieldref" in modifiers:
                        for ref in value if isinstance(value, list) else [value]:
                            if isinstance(ref, str):
                                yield ref, (section, *keys, key)
    correlation = doc.data.get("correlation")
    if isinstance(correlation, dict):
        group_by = correlation.get("group-by") or []
        for field in [group_by] if isinstance(group_by, str) else group_by:
            yield str(field), ("correlation", "group-by")
        condition = correlation.get("condition")
        if isinstance(condition, dict):
            fields = condition.get("field") or []
            for field in [fields] if isinstance(fields, str) else fields:
                yield str(field), ("correlation", "condition", "field")
    ext = doc.data.get("spanwatch")
    if isinstance(ext, dict):
        group_by = ext.get("group-by") or []
        for field in [group_by] if isinstance(group_by, str) else group_by:
            yield str(field), ("spanwatch", "group-by")
