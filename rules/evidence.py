"""Small, secret-free evidence for hits: the key fields of the matching event."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, cast

import re2

from .timeutil import iso

KEY_FIELDS = ("name", "session", "trace_id", "span_id", "user", "team", "repo")
MAX_TEXT = 300

# Credentials that must never reach an incident log or a chat channel verbatim.
_SECRETS = re2.compile(
    r"(AKIA|ASIA)[0-9A-Z]{16}"
    r"|-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"
    r"|(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|sk-ant-[A-Za-z0-9_\-]{10,}"
    r"|ABSK[A-Za-z0-9+/=]{20,}"
    r"|[sr]k_live_[A-Za-z0-9]{20,}"
    r"|glpat-[A-Za-z0-9_\-]{20,}"
    r"|AIza[0-9A-Za-z_\-]{35}"
    r"|npm_[A-Za-z0-9]{36}"
    r"|hf_[A-Za-z0-9]{34}"
    r"|pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}"
    r"|dckr_pat_[A-Za-z0-9_\-]{27,}"
    r"|SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}"
    r"|hooks\.slack\.com/(services|workflows)/[A-Za-z0-9/]{20,}"
    r"|(?i:(aws_?secret_?access_?key|secret-access-key|secretaccesskey)[\"']?(\s*[=:]\s*|\s+)[\"']?)"
    r"[A-Za-z0-9/+=]{40}"
    r"|(?i:(aws_secret_access_key|password|passwd|secret|token)\s*[=:]\s*)\S{6,}"
)


# Every credential above contains one of these (lower-cased): a cheap test before RE2 runs.
_TRIGGERS = (
    "akia", "asia", "private key", "gh", "xox", "sk-ant-", "absk", "passw", "secret", "token",
    "k_live_", "glpat-", "aiza", "npm_", "hf_", "pypi-", "dckr_", "sg.", "hooks.slack",
)  # fmt: skip


def redact(text: str) -> str:
    """Mask credentials, keeping their first four characters so a human can tell them apart
    (and, for an AWS access key id, a digest that identifies the key without revealing it)."""
    low = text.lower()
    for trigger in _TRIGGERS:
        if trigger in low:
            break
    else:
        return text
    try:
        masked: str = _SECRETS.sub(_mask, text)
    except UnicodeEncodeError:  # RE2 needs UTF-8: lone surrogates (bad JSON escapes) become "?"
        masked = _SECRETS.sub(_mask, text.encode("utf-8", "replace").decode("utf-8"))
    return masked


def _mask(match: Any) -> str:
    text: str = match.group(0)
    if text[:4] in ("AKIA", "ASIA") and len(text) == 20:
        return f"{text[:4]}…[redacted {key_digest(text)}]"
    return text[:4] + "…[redacted]"


EvidenceValue = str | int | float | bool | None
"""What a field of a matched event shows as evidence: a scalar, strings redacted and cut."""


def key_digest(access_key_id: str) -> str:
    """`sha256:` and the first 16 hex digits of the SHA-256 of an AWS access key id.

    An automated response can find the leaked key among the account's keys (compare the digest
    of each `iam:ListAccessKeys` id) while the id itself never leaves the telemetry.
    """
    return "sha256:" + hashlib.sha256(access_key_id.encode("ascii")).hexdigest()[:16]


def small_value(value: object, *, secret_free: bool = False) -> EvidenceValue:
    """A value fit for evidence: scalars as they are, strings redacted and truncated."""
    if isinstance(value, str):
        text = value if secret_free else redact(value)
        return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"
    if value is None or isinstance(value, bool | int | float):
        return value
    try:
        text = str(value)
    except ValueError:  # e.g. a list holding an int too long to print
        text = f"<unprintable {type(value).__name__}>"
    return small_value(text, secret_free=secret_free)


def event_evidence(event: Mapping[str, object], fields: Iterable[str]) -> dict[str, EvidenceValue]:
    """The event's time, key fields and the fields the rule looked at."""
    out = key_evidence(event)
    get = event.get
    for name in fields:
        if name not in out:
            value = get(name)
            if value is not None:
                out[name] = small_value(value)
    return out


def key_evidence(event: Mapping[str, object]) -> dict[str, EvidenceValue]:
    """The part of `event_evidence` every rule shares: the event's time and key fields."""
    out: dict[str, EvidenceValue] = {}
    t = event.get("time")
    if isinstance(t, int | float) and not isinstance(t, bool):
        try:
            out["time"] = iso(float(t))
        except (ValueError, OverflowError, OSError):
            out["time"] = t
    get = event.get
    for name in KEY_FIELDS:  # identifiers: truncated, not scanned for credentials
        value = get(name)
        if value is not None:
            if type(value) is str and len(value) <= MAX_TEXT:
                out[name] = value
            else:
                out[name] = small_value(value, secret_free=True)
    return out


def evidence_names(fields: Iterable[str]) -> tuple[str, ...]:
    """Every event key `event_evidence(event, fields)` reads, each once."""
    return tuple(dict.fromkeys(("time", *KEY_FIELDS, *fields)))


class EvidenceSource(NamedTuple):
    """What evidence is built from, captured when a rule matches; built only when it is shown.

    Correlation inputs are many and their evidence is shown only when a window fires, so they
    carry the raw values of the few keys `event_evidence` reads instead of the finished dict:
    `EvidenceSource(names, fields, tuple(map(event.get, names)))`, one C-level pass. A tuple
    of plain values, so picklable.
    """

    names: tuple[str, ...]  # evidence_names(fields)
    fields: tuple[str, ...]  # the rule's evidence fields
    values: tuple[Any, ...]  # event.get(name) for each of names

    def build(self) -> dict[str, EvidenceValue]:
        """Exactly `event_evidence(event, fields)` of the event the values were taken from."""
        return event_evidence(dict(zip(self.names, self.values, strict=True)), self.fields)


NO_EVIDENCE = EvidenceSource((), (), ())

Evidence = dict[str, Any] | EvidenceSource
"""A hit's evidence: finished (a window's tally), or an event's raw values, built when shown."""


def shown(evidence: Evidence) -> dict[str, Any]:
    """The evidence as the incident log shows it: a matched event's is built here, on demand."""
    return evidence.build() if type(evidence) is EvidenceSource else cast(dict[str, Any], evidence)
