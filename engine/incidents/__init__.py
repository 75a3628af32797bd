"""The incident stage: a pure state machine from hits and control events to incident-log
transitions and notifications (dedup, grouping, silences, inhibition, time intervals, routing,
escalation). No I/O and no wall clock: the engine feeds it and wires it into the dataflow."""

from engine.incidents.book import IncidentBook
from engine.incidents.config import IncidentsConfig
from engine.incidents.control import ControlError, ControlEvent, parse_control
from engine.incidents.model import ControlReport, Hit, Output, Transition, fingerprint
from engine.incidents.route_tree_cli import routes_test

__all__ = [
    "ControlError",
    "ControlEvent",
    "ControlReport",
    "Hit",
    "IncidentBook",
    "IncidentsConfig",
    "Output",
    "Transition",
    "fingerprint",
    "parse_control",
    "routes_test",
]
