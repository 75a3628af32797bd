"""Who may write telemetry into the live engine: the OTLP receivers' bearer-token gate.

Mirrors the API's write endpoints and the OpenTelemetry Collector's `bearertokenauth`
extension: with `live.ingest_auth: bearer` (the default) every OTLP request needs
`Authorization: Bearer $SPANWATCH_INGEST_TOKEN`, and without that variable ingest is
refused, so a forgotten secret never means an open door. `live.ingest_auth: none` is the
explicit opt-out for an engine behind a Collector on a private network.

The token comes only from the environment, is compared in constant time, and is never
part of a message, a log line or this object's repr.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from engine.config import IngestAuth
from engine.live.bearer import bearer_matches

INGEST_TOKEN_ENV = "SPANWATCH_INGEST_TOKEN"  # noqa: S105 - the name of the variable
DISABLED_REASON = "ingest is disabled: set SPANWATCH_INGEST_TOKEN (or live.ingest_auth: none)"
UNAUTHENTICATED_REASON = "missing or wrong bearer token"


@dataclass(frozen=True)
class Refusal:
    """Why a write was turned away: `disabled` (503 / UNAVAILABLE) or `unauthenticated`
    (401 / UNAUTHENTICATED), with the reason the client is told."""

    kind: Literal["disabled", "unauthenticated"]
    reason: str


DISABLED = Refusal("disabled", DISABLED_REASON)
UNAUTHENTICATED = Refusal("unauthenticated", UNAUTHENTICATED_REASON)


class IngestGate:
    """Decides whether one OTLP request may enter, and counts the requests it refuses."""

    def __init__(self, mode: IngestAuth, token: str | None) -> None:
        if mode not in ("bearer", "none"):
            raise ValueError(f"ingest_auth must be 'bearer' or 'none', not {mode!r}")
        self.mode = mode
        token = (token or "").strip()
        self._token = token.encode() if token else None
        self._lock = threading.Lock()
        self.refused_unauthenticated = 0
        self.refused_disabled = 0

    @classmethod
    def from_env(cls, mode: IngestAuth, environ: Mapping[str, str] | None = None) -> IngestGate:
        env = os.environ if environ is None else environ
        return cls(mode, env.get(INGEST_TOKEN_ENV))

    def __repr__(self) -> str:
        return f"IngestGate(mode={self.mode!r}, token_set={self._token is not None})"

    @property
    def token_set(self) -> bool:
        return self._token is not None

    def check(self, authorization: str | bytes | None) -> Refusal | None:
        """None if a request with this `Authorization` value may write; else why not.

        Bytes are the header as received (HTTP); text is encoded as UTF-8 (gRPC metadata).
        """
        if self.mode == "none":
            return None
        if self._token is None:
            with self._lock:
                self.refused_disabled += 1
            return DISABLED
        if not bearer_matches(authorization or "", self._token):
            with self._lock:
                self.refused_unauthenticated += 1
            return UNAUTHENTICATED
        return None

    def counts(self) -> dict[str, int]:
        """Requests refused so far, by reason (for a health or metrics endpoint)."""
        with self._lock:
            return {
                "unauthenticated": self.refused_unauthenticated,
                "disabled": self.refused_disabled,
            }

    def startup_notice(self) -> str | None:
        """The one line `spanwatch run` prints when ingest is off or open; None when guarded."""
        if self.mode == "none":
            ignored = f" ({INGEST_TOKEN_ENV} is set but ignored)" if self.token_set else ""
            return (
                "spanwatch: live.ingest_auth is none: the OTLP receivers accept "
                f"unauthenticated data{ignored}"
            )
        if self._token is None:
            return f"spanwatch: {DISABLED_REASON}; the OTLP receivers refuse every write"
        return None
