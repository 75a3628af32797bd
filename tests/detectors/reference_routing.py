"""Routing by testing every detector in turn: the reference the name index must equal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detectors import DetectorSet, Observation
from detectors.routing import event_time


def route_each(detectors: DetectorSet, event: Mapping[str, Any]) -> list[Observation]:
    """What `DetectorSet.route` must give: each detector's own `Route.observe`, in order."""
    t = event_time(event)
    if t is None:
        return []
    found = (route.observe(event, t) for route in detectors.routes)
    return [obs for obs in found if obs is not None]
