"""Scrubbing credentials and cutting long fields before a notification leaves the process.

Evidence copied from telemetry can hold whatever a user typed or a command printed: keys, tokens,
private keys, prompts. Every string inside a notification's group labels and incidents passes
through the configured google-re2 patterns (linear time, whatever the input), then through a
length cap: per field for prompts and commands, and a global one for everything else. Patterns
run before the cap so that a cut can never leave half a secret that no longer matches.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import re2

from notifiers.config import EMAIL_PATTERN, RedactionConfig
from notifiers.model import Notification


def cut(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with a visible mark saying how much went."""
    if len(text) <= limit:
        return text
    longest_mark = f"…[cut {len(text)} chars]"  # the real mark is never longer than this
    keep = max(0, limit - len(longest_mark))
    return text[:keep] + f"…[cut {len(text) - keep} chars]"


class Redactor:
    """Applies a RedactionConfig to strings, nested values and whole notifications."""

    def __init__(self, config: RedactionConfig | None = None) -> None:
        self.config = config or RedactionConfig()
        patterns = [*self.config.patterns, *self.config.extra_patterns]
        if self.config.redact_emails:
            patterns.append(EMAIL_PATTERN)
        options = re2.Options()
        options.log_errors = False
        self._rules = [(re2.compile(p.regex, options), f"[REDACTED:{p.name}]") for p in patterns]
        combined = "|".join(f"(?:{p.regex})" for p in patterns) or "$^"
        self._any = re2.compile(combined, options)
        self._caps = {k.lower(): v for k, v in self.config.field_caps.items()}

    def text(self, value: str, field: str | None = None) -> str:
        """One string, redacted then capped (by `field`'s cap when it has one)."""
        if not self.config.enabled:
            return value
        if self._any.search(value):
            for pattern, replacement in self._rules:
                value = pattern.sub(lambda _m, r=replacement: r, value)
        limit = self.config.max_string_length
        if field is not None:
            limit = min(limit, self._caps.get(field.rsplit(".", 1)[-1].lower(), limit))
        return cut(value, limit)

    def value(self, obj: Any, field: str | None = None) -> Any:
        """Any JSON-like value with every string inside it redacted; keys name the fields."""
        if isinstance(obj, str):
            return self.text(obj, field)
        if isinstance(obj, dict):
            return {k: self.value(v, str(k)) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.value(v, field) for v in obj]
        return obj

    def notification(self, notification: Notification) -> Notification:
        """A copy whose group labels and incidents are redacted (routing fields stay as they are)."""
        if not self.config.enabled:
            return notification
        return dataclasses.replace(
            notification,
            group_labels=self.value(dict(notification.group_labels)),
            incidents=[self.value(dict(i)) for i in notification.incidents],
        )
