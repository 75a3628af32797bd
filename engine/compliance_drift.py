"""The compliance drift detector in the dataflow: what each event tells it.

Its statistics are `compliance.live_drift`; here, per event, the one observation it needs (the
team, the session, and the categories of the event's rule hits), made on the stateless match
path so that replay and the live engine feed it alike. It lives in a detector shard beside the
statistical detectors, and its verdicts become incidents as theirs do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from compliance.live_drift import DAY, DETECTOR_ID, AdherenceDrift, LiveDriftParams
from compliance.metrics import UNKNOWN_TEAM
from detectors.model import Observation

NO_HITS: tuple[str, ...] = ()


def drift_observation(event: Mapping[str, Any], hits: Sequence[Any]) -> Observation | None:
    """What one event adds to its team's day: its session, and the categories it hit."""
    session = event.get("session")
    if not isinstance(session, str) or not session:
        return None
    team = event.get("team")
    if not isinstance(team, str) or not team:
        team = UNKNOWN_TEAM
    cats = tuple(sorted({str(h.labels.get("category") or "") for h in hits})) if hits else NO_HITS
    return Observation(DETECTOR_ID, event["time"], (team,), session, values=cats)


def new_drift_state(params: LiveDriftParams) -> AdherenceDrift:
    return AdherenceDrift(params)


def day_closed(item: Observation, watermark: float) -> bool:
    """Whether the day holding the observation has closed (the watermark reached its end)."""
    return (item.time // DAY) * DAY + DAY <= watermark
