"""Silences kept in a file under the state directory, so that a restart lists them and they
go on muting.

The dataflow's recovered state holds the silences too, but only as of its last snapshot: a
silence accepted moments before a crash can be missing from it. The file is written (whole,
atomically) every time a silence is applied, and at start-up the silences still in force are
offered to the control stream again; creating a silence that exists is an idempotent update.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from engine.timeutil import parse_time

log = logging.getLogger("spanwatch")


def _ends(silence: dict[str, Any]) -> float | None:
    try:
        return parse_time(silence["ends_at"])
    except (KeyError, TypeError, ValueError):
        return None


class SilenceFile:
    """`silences.json`: the API's view of every silence, pruned `retention` s after its end."""

    def __init__(self, path: Path, retention: float) -> None:
        self.path = path
        self.retention = retention

    def load(self, now: float) -> dict[str, dict[str, Any]]:
        """The silences kept; their `state` as of `now`. A damaged file is reported, not fatal."""
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            log.error("silences not restored: %s: %s", self.path, exc)
            return {}
        if not isinstance(data, dict):
            log.error("silences not restored: %s does not hold a JSON object", self.path)
            return {}
        kept = {}
        for ident, silence in data.items():
            ends = _ends(silence) if isinstance(silence, dict) else None
            if ends is None:
                continue
            try:
                starts = parse_time(silence.get("starts_at", ends))
            except (TypeError, ValueError):
                starts = ends
            state = "pending" if now < starts else ("active" if now < ends else "expired")
            kept[ident] = {**silence, "state": state}
        return kept

    def save(self, silences: dict[str, dict[str, Any]], now: float) -> None:
        """Write them all, atomically (a crash leaves the old file or the new one)."""
        keep = {
            ident: s for ident, s in silences.items() if (_ends(s) or 0.0) >= now - self.retention
        }
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".silences-")
            with os.fdopen(fd, "wb") as f:
                f.write(orjson.dumps(keep, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            log.error("silences not saved to %s: %s", self.path, exc)

    @staticmethod
    def control(silence: dict[str, Any], at: float) -> dict[str, Any]:
        """The control event that puts `silence` (as the API lists it) in force again."""
        fields = ("id", "matchers", "starts_at", "ends_at", "created_by", "comment")
        return {"type": "silence", "at": at, **{k: silence[k] for k in fields if k in silence}}
