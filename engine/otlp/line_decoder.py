"""One history line or OTLP payload -> normalised events, with a reason when it is not one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from engine.otlp.aliases import AliasTable
from engine.otlp.event_checks import TimeBounds, screen
from engine.otlp.json_decoder import decode_logs, decode_traces
from engine.otlp.normalised_event import NotOtlpError, normalise_flat


class DecodeError(ValueError):
    """A line that is not JSON, or JSON that is neither OTLP nor a normalised event."""


def decode_object(obj: object, aliases: AliasTable) -> list[dict[str, Any]]:
    """An already-parsed JSON object -> normalised events."""
    if not isinstance(obj, Mapping):
        raise NotOtlpError(f"expected a JSON object, got {type(obj).__name__}")
    if "resourceSpans" in obj:
        return decode_traces(obj, aliases)
    if "resourceLogs" in obj:
        return decode_logs(obj, aliases)
    return [normalise_flat(obj, aliases)]


def decode_line(line: bytes | str, aliases: AliasTable) -> list[dict[str, Any]]:
    """One line of a history file -> normalised events; DecodeError says why not."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not valid JSON: {exc}") from None
    try:
        return decode_object(obj, aliases)
    except NotOtlpError as exc:
        raise DecodeError(f"not OTLP: {exc}") from None
    except (KeyError, TypeError, AttributeError, ValueError, ArithmeticError) as exc:
        raise DecodeError(f"not OTLP: malformed ({type(exc).__name__}: {exc})") from None
    except RecursionError:
        raise DecodeError("not OTLP: nested too deeply") from None


def decode_history_line(
    line: bytes | str, aliases: AliasTable, bounds: TimeBounds, now: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """One history line -> the events fit to enter state, and why each other one is not
    (`engine.otlp.event_checks`, with this machine's clock at `now`); DecodeError when the line
    is not an event at all."""
    return screen(decode_line(line, aliases), bounds, now)
