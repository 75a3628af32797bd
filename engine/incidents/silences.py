"""Silences: time-boxed label matchers that mute notifications (never the incident log)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NotRequired, TypedDict

from engine.incidents.matchers import Matcher, matches_all
from engine.timeutil import iso


class SilenceData(TypedDict):
    """A silence as the API lists it and control reports carry it; `state` (pending, active,
    expired) when listed at a time."""

    id: str
    matchers: list[str]
    starts_at: str
    ends_at: str
    created_by: str
    comment: str
    state: NotRequired[str]


@dataclass(frozen=True)
class Silence:
    """Mutes every incident whose labels match all `matchers` during [starts_at, ends_at)."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str = ""
    comment: str = ""

    def active(self, t: float) -> bool:
        return self.starts_at <= t < self.ends_at

    def state(self, t: float) -> str:
        """`pending`, `active` or `expired`, as Alertmanager lists them."""
        if t < self.starts_at:
            return "pending"
        return "active" if t < self.ends_at else "expired"

    def mutes(self, labels: Mapping[str, str], t: float) -> bool:
        return self.active(t) and matches_all(self.matchers, labels)

    def to_dict(self, t: float | None = None) -> SilenceData:
        out: SilenceData = {
            "id": self.id,
            "matchers": [str(m) for m in self.matchers],
            "starts_at": iso(self.starts_at),
            "ends_at": iso(self.ends_at),
            "created_by": self.created_by,
            "comment": self.comment,
        }
        if t is not None:
            out["state"] = self.state(t)
        return out


def silence_id(matchers: tuple[Matcher, ...], starts_at: float, ends_at: float, by: str) -> str:
    """A deterministic id for a silence that did not name one (replays stay byte-identical)."""
    canonical = json.dumps([[str(m) for m in matchers], starts_at, ends_at, by])
    return "s-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
