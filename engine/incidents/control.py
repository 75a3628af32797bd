"""The control stream: acknowledge, resolve, silence and expire-silence requests as plain dicts.

Replay reads them from a JSON-lines file (`spanwatch replay --control FILE`); the live API and
Slack buttons produce the same dicts. Parsing is strict, so a typo is refused with the reason
rather than silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.incidents.matchers import MatcherError, parse_matcher
from engine.incidents.silences import Silence, silence_id
from engine.timeutil import parse_time


class ControlError(ValueError):
    """A control event that cannot be applied; `where` says which line or request it was."""

    def __init__(self, reason: str, where: str = "") -> None:
        self.reason = reason
        self.where = where
        super().__init__(f"{where}: {reason}" if where else reason)


@dataclass(frozen=True)
class Ack:
    at: float
    incident: str  # incident id or fingerprint
    by: str = ""
    comment: str = ""


@dataclass(frozen=True)
class Resolve:
    at: float
    incident: str
    by: str = ""
    comment: str = ""


@dataclass(frozen=True)
class CreateSilence:
    at: float
    silence: Silence


@dataclass(frozen=True)
class ExpireSilence:
    at: float
    id: str
    by: str = ""


ControlEvent = Ack | Resolve | CreateSilence | ExpireSilence

_FIELDS = {
    "ack": ({"type", "at", "incident"}, {"by", "comment"}),
    "resolve": ({"type", "at", "incident"}, {"by", "comment"}),
    "silence": (
        {"type", "at", "matchers", "ends_at"},
        {"id", "starts_at", "created_by", "comment"},
    ),
    "expire_silence": ({"type", "at", "id"}, {"by"}),
}


def _text(obj: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = obj.get(key, "")
    if not isinstance(value, str):
        raise ControlError(f"{key!r} must be a string, not {value!r}")
    if required and not value.strip():
        raise ControlError(f"{key!r} must not be empty")
    return value


def _time(obj: dict[str, Any], key: str) -> float:
    try:
        return parse_time(obj[key])
    except (ValueError, TypeError) as exc:
        raise ControlError(f"{key!r}: {exc}") from None


def parse_control(obj: dict[str, Any], *, where: str = "") -> ControlEvent:
    """A typed control event from its dict form; ControlError(reason, where) when invalid."""
    try:
        return _parse(obj)
    except ControlError as exc:
        raise ControlError(exc.reason, where) from None


def _parse(obj: Any) -> ControlEvent:
    if not isinstance(obj, dict):
        raise ControlError(f"a control event is a JSON object, not {type(obj).__name__}")
    kind = obj.get("type")
    if kind not in _FIELDS:
        raise ControlError(f"unknown control type {kind!r} (use {', '.join(_FIELDS)})")
    required, optional = _FIELDS[kind]
    missing = sorted(required - obj.keys())
    if missing:
        raise ControlError(f"{kind}: missing {', '.join(missing)}")
    unknown = sorted(obj.keys() - required - optional)
    if unknown:
        raise ControlError(f"{kind}: unknown field(s) {', '.join(unknown)}")
    at = _time(obj, "at")
    if kind in ("ack", "resolve"):
        cls = Ack if kind == "ack" else Resolve
        return cls(
            at, _text(obj, "incident", required=True), _text(obj, "by"), _text(obj, "comment")
        )
    if kind == "expire_silence":
        return ExpireSilence(at, _text(obj, "id", required=True), _text(obj, "by"))
    return CreateSilence(at, _parse_silence(obj, at))


def _parse_silence(obj: dict[str, Any], at: float) -> Silence:
    raw = obj["matchers"]
    if not isinstance(raw, list) or not raw:
        raise ControlError("silence refused: 'matchers' must be a non-empty list of strings")
    matchers = []
    for index, item in enumerate(raw):
        try:
            matchers.append(parse_matcher(item))
        except MatcherError as exc:
            raise ControlError(f"silence refused: matchers[{index}]: {exc}") from None
    if all(m.matches({}) for m in matchers):
        raise ControlError("silence refused: its matchers would match every incident")
    starts_at = _time(obj, "starts_at") if "starts_at" in obj else at
    ends_at = _time(obj, "ends_at")
    if ends_at <= starts_at:
        raise ControlError("silence refused: ends_at must be after starts_at")
    created_by = _text(obj, "created_by")
    ident = _text(obj, "id") or silence_id(tuple(matchers), starts_at, ends_at, created_by)
    return Silence(ident, tuple(matchers), starts_at, ends_at, created_by, _text(obj, "comment"))
