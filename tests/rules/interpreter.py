"""A plain, slow interpretation of pySigma's parsed condition: the reference the compiled
matchers are tested against (differential property test). Written for obviousness, not speed;
it follows `rules/semantics.py` without sharing the compiler's fast paths.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Mapping
from typing import Any

import re2
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

from rules.semantics import as_bool, as_number, as_text, time_part


def interpret(node: Any, event: Mapping[str, Any], lists: Mapping[str, list[str]]) -> bool:
    """Does `event` satisfy the condition tree `node`?"""
    if node is None:
        return False
    if isinstance(node, ConditionAND):
        return all(interpret(arg, event, lists) for arg in node.args)
    if isinstance(node, ConditionOR):
        return any(interpret(arg, event, lists) for arg in node.args)
    if isinstance(node, ConditionNOT):
        return not interpret(node.args[0], event, lists)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _field(node.field, node.value, event, lists)
    if isinstance(node, ConditionValueExpression):
        return _keyword(node.value, event, lists)
    raise TypeError(f"unexpected condition element {node!r}")


def _keyword(value: Any, event: Mapping[str, Any], lists) -> bool:
    if isinstance(value, SigmaExpansion):
        return any(_keyword(v, event, lists) for v in value.values)
    for name, field_value in event.items():
        if isinstance(field_value, str) and _field(name, value, event, lists):
            return True
    return False


def _field(name: str, value: Any, event: Mapping[str, Any], lists) -> bool:
    raw = event.get(name)
    if isinstance(value, SigmaExpansion):
        return any(_field(name, v, event, lists) for v in value.values)
    if isinstance(value, SigmaString):
        text = as_text(raw)
        if text is None:
            return False
        cased = isinstance(value, SigmaCasedString)
        return any(
            _wildcard(parts, text if cased else text.lower(), cased)
            for parts in _expand(value.s, lists)
        )
    if isinstance(value, SigmaRegularExpression):
        text = as_text(raw)
        if text is None:
            return False
        try:
            return _regex(value, lists).search(text) is not None
        except UnicodeEncodeError:
            return False
    if isinstance(value, SigmaNull):
        return raw is None
    if isinstance(value, SigmaExists):
        return (raw is not None) == bool(value.exists)
    if isinstance(value, SigmaBool):
        return as_bool(raw) == bool(value.boolean) and as_bool(raw) is not None
    if isinstance(value, SigmaTimestampPart):
        return time_part(raw, value.timestamp_part.name) == int(value.number)
    if isinstance(value, SigmaNumber):
        got = as_number(raw)
        return got is not None and got == float(value.number)
    if isinstance(value, SigmaCompareExpression):
        got = as_number(raw)
        if got is None:
            return False
        bound = float(value.number.number)
        return {
            CompareOperators.GT: got > bound,
            CompareOperators.GTE: got >= bound,
            CompareOperators.LT: got < bound,
            CompareOperators.LTE: got <= bound,
            CompareOperators.NEQ: got != bound,
        }[value.op]
    if isinstance(value, SigmaCIDRExpression):
        if not isinstance(raw, str):
            return False
        try:
            return ipaddress.ip_address(raw.strip()) in value.network
        except ValueError:
            return False
    if isinstance(value, SigmaFieldReference):
        other = event.get(value.field)
        if raw is None or other is None:
            return False
        if isinstance(raw, str) and isinstance(other, str):
            a, b = raw.lower(), other.lower()
            if value.starts_with and value.ends_with:
                return b in a
            if value.starts_with:
                return a.endswith(b)
            if value.ends_with:
                return a.startswith(b)
            return a == b
        if value.starts_with or value.ends_with:
            return False
        if isinstance(raw, bool) or isinstance(other, bool):
            return raw is other
        numbers = (int, float)
        return isinstance(raw, numbers) and isinstance(other, numbers) and raw == other
    raise TypeError(f"unsupported value {value!r}")


def _expand(parts: list[Any], lists) -> list[list[Any]]:
    """Every placeholder replaced by each of its list values (a cartesian product); a list
    value is a Sigma string, so its `*` and `?` are wildcards."""
    choices = [
        [SigmaString(str(v)).s for v in lists[p.name]] if isinstance(p, Placeholder) else [[p]]
        for p in parts
    ]
    return [[part for piece in combo for part in piece] for combo in itertools.product(*choices)]


def _wildcard(parts: list[Any], text: str, cased: bool) -> bool:
    """Match `*`/`?` patterns by dynamic programming over characters."""
    tokens: list[Any] = []
    for part in parts:
        if isinstance(part, str):
            tokens.extend(part if cased else part.lower())
        else:
            tokens.append(part)
    # reachable[j]: the pattern prefix consumed so far can end at text position j
    reachable = [True] + [False] * len(text)
    for token in tokens:
        nxt = [False] * (len(text) + 1)
        if token == SpecialChars.WILDCARD_MULTI:
            seen = False
            for j in range(len(text) + 1):
                seen = seen or reachable[j]
                nxt[j] = seen
        else:
            for j in range(len(text)):
                if reachable[j] and (token == SpecialChars.WILDCARD_SINGLE or text[j] == token):
                    nxt[j + 1] = True
        reachable = nxt
    return reachable[len(text)]


def _regex(value: SigmaRegularExpression, lists):
    flags = {
        SigmaRegularExpressionFlag.IGNORECASE: "i",
        SigmaRegularExpressionFlag.MULTILINE: "m",
        SigmaRegularExpressionFlag.DOTALL: "s",
    }
    prefix = "".join(sorted(flags[f] for f in value.flags))
    text = ""
    for part in value.regexp.s:
        if isinstance(part, Placeholder):
            text += "(?:" + "|".join(re2.escape(v) for v in lists[part.name]) + ")"
        elif part == SpecialChars.WILDCARD_MULTI:
            text += "*"
        elif part == SpecialChars.WILDCARD_SINGLE:
            text += "?"
        else:
            text += part
    return re2.compile((f"(?{prefix})" if prefix else "") + text)
