"""What a state restored from a snapshot takes from the configuration the engine started with.

A snapshot holds state: open windows, learned baselines, alerts firing. The configuration it
was taken under is not state: after a restart the configuration given at start wins, so an
edited detector or a new default reaches running deployments too. A detector's state is kept
when what it learns is unchanged, and takes the new title, severity, labels, runbook and noise
budget; one that learns differently now starts over, as a new detector would.
"""

from __future__ import annotations

from dataclasses import fields

from compliance.live_drift import AdherenceDrift, LiveDriftParams
from detectors.detectorset import CompiledDetector, DetectorState
from detectors.slice_state import SliceState

DetectorHolder = DetectorState | SliceState | AdherenceDrift

# What a detector says when it alerts, as opposed to what it learns: changed at a restart,
# they are taken over by the detector's restored state.
_PRESENTATION = frozenset({"title", "severity", "runbook", "labels", "noise_budget"})


def learns_the_same(old: CompiledDetector, new: CompiledDetector) -> bool:
    """Whether a state built for `old` keeps its meaning under `new`."""
    names = (f.name for f in fields(CompiledDetector) if f.name not in _PRESENTATION)
    return all(getattr(old, name) == getattr(new, name) for name in names)


def restored_detector(old: DetectorHolder | None, new: CompiledDetector) -> DetectorHolder | None:
    """`old` under the detector `new`, or None when it must start over."""
    if not isinstance(old, DetectorState | SliceState) or not learns_the_same(old.d, new):
        return None
    if old.d != new:
        old.d = new
    return old


def restored_drift(old: DetectorHolder | None, params: LiveDriftParams) -> DetectorHolder | None:
    """The compliance drift detector's state, or None when its parameters changed."""
    return old if isinstance(old, AdherenceDrift) and old.p == params else None
