"""Label matchers (`team=payments`, `user=~ali.*`, `severity!=info`, `rule_id!~x.*`).

Alertmanager semantics: a missing label reads as the empty string, and regular expressions
are anchored at both ends. Regexes run through google-re2 so that a user-written pattern
always matches in linear time. A matcher holds only strings, so it pickles; the compiled
pattern lives in a process-wide cache.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import re2

OPERATORS = ("=~", "!~", "!=", "=")  # longest first: "=~" must win over "="
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


class AnchoredPattern(Protocol):
    """What a matcher asks of its compiled pattern (google-re2's, whose type is private)."""

    def match(self, text: str) -> object:
        """A match object when the pattern matches `text` from its start, else None."""
        ...


class MatcherError(ValueError):
    """A matcher that cannot be parsed or whose regular expression is invalid."""


@functools.lru_cache(maxsize=1024)
def compile_anchored(pattern: str) -> AnchoredPattern:
    """The anchored RE2 program for `pattern`; MatcherError with RE2's reason if invalid."""
    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(pattern, options)  # errors then quote the user's pattern, not our anchors
        anchored: AnchoredPattern = re2.compile(f"^(?:{pattern})$", options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "invalid"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise MatcherError(f"invalid regular expression {pattern!r}: {reason}") from None
    return anchored


@dataclass(frozen=True)
class Matcher:
    """One condition on one label."""

    name: str
    op: str
    value: str

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise MatcherError(f"unknown matcher operator {self.op!r} (use = != =~ !~)")
        if self.op in ("=~", "!~"):
            compile_anchored(self.value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = compile_anchored(self.value).match(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f"{self.name}{self.op}{json.dumps(self.value, ensure_ascii=False)}"


def parse_matcher(text: str) -> Matcher:
    """A Matcher from `name OP value`; the value may be bare or a JSON double-quoted string."""
    if isinstance(text, Matcher):
        return text
    if not isinstance(text, str):
        raise MatcherError(f"a matcher is a string like 'team=payments', not {text!r}")
    stripped = text.strip()
    end = 0
    while end < len(stripped) and stripped[end] in _NAME_CHARS:
        end += 1
    name = stripped[:end]
    if not name:
        raise MatcherError(f"matcher {text!r} has no label name (write e.g. team=payments)")
    rest = stripped[end:].lstrip()
    op = next((candidate for candidate in OPERATORS if rest.startswith(candidate)), None)
    if op is None:
        raise MatcherError(f"matcher {text!r} has no operator (use = != =~ !~)")
    raw = rest[len(op) :].strip()
    if raw.startswith('"'):
        try:
            value = json.loads(raw)
        except ValueError:
            raise MatcherError(f"matcher {text!r} has a badly quoted value") from None
        if not isinstance(value, str):
            raise MatcherError(f"matcher {text!r} has a badly quoted value")
    else:
        value = raw
    return Matcher(name, op, value)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (so an empty list matches everything)."""
    return all(matcher.matches(labels) for matcher in matchers)
