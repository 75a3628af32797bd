"""spanwatch detectors: event-time rollups and online per-key anomaly detectors (no Bytewax)."""

from detectors.config import DetectorsConfig, DetectorSpec, MetricSpec
from detectors.detectorset import DetectorSet, DetectorState
from detectors.model import Observation, Signal

__all__ = [
    "DetectorSet",
    "DetectorSpec",
    "DetectorState",
    "DetectorsConfig",
    "MetricSpec",
    "Observation",
    "Signal",
]
