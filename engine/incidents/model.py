"""The data the incident stage takes in and gives out: hits in; transitions, notifications and
control reports out. All plain, frozen and picklable."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, TypeGuard

from engine.incidents.silences import SilenceData
from engine.timeutil import iso
from notifiers.model import IncidentData, Notification
from rules.evidence import Evidence

SEVERITIES = ("info", "low", "medium", "high", "critical")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
SOURCES = ("rule", "detector")
PRODUCES = ("incident", "finding")
TRANSITIONS = (
    "incident.opened",
    "incident.updated",
    "incident.escalated",
    "incident.acknowledged",
    "incident.resolved",
)


def fingerprint(rule_id: str, group: dict[str, str]) -> str:
    """Stable identity of one problem: a hash of the rule or detector id and the group labels."""
    canonical = json.dumps([rule_id, sorted(group.items())], ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Hit:
    """One firing (or explicit end) of a rule or detector, as the engine adapts it."""

    source: str  # "rule" | "detector"
    rule_id: str
    title: str
    severity: str  # info|low|medium|high|critical
    time: float  # event time
    group: dict[str, str]
    labels: dict[str, str]
    evidence: Evidence  # a matched event's stays raw until an incident log line shows it
    runbook: str | None = None
    resolve_after: float | None = None  # rules: auto-resolve after this much time without hits
    resolved: bool = False  # detectors: an explicit "no longer firing"
    score: float | None = None
    noise_budget: int | None = None  # incidents per budget period; None: global; 0: none
    produces: str = "incident"  # "finding": recorded and digested (engine.incidents.findings)

    def __post_init__(self) -> None:
        # A bad hit is a bug in the adapter that built it, not user input: fail loudly there.
        if self.severity not in SEVERITY_RANK:
            raise ValueError(f"hit {self.rule_id!r}: unknown severity {self.severity!r}")
        if self.source not in SOURCES:
            raise ValueError(f"hit {self.rule_id!r}: unknown source {self.source!r}")
        if self.produces not in PRODUCES:
            raise ValueError(f"hit {self.rule_id!r}: unknown produces {self.produces!r}")
        if self.resolve_after is not None and self.resolve_after <= 0:
            raise ValueError(f"hit {self.rule_id!r}: resolve_after must be positive")

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rule_id, self.group)


class LogLineData(TypedDict):
    """One incident-log line (docs/architecture.md)."""

    type: str
    at: str
    incident: IncidentData
    id: str


class ReportData(TypedDict):
    """A control report as the API answers it and the incident stage hands it to the views."""

    at: str | None
    kind: str
    target: str
    outcome: str
    message: str
    data: SilenceData | dict[str, object]  # empty but for silences


@dataclass(frozen=True)
class Transition:
    """One lifecycle step of one incident; `incident` is the incident dict at that moment.

    `id` names the step for good (`<incident id>/<n>`, its n-th transition): a recovery that
    computes the same step again writes the same id, so the incident log keeps one line of it.
    """

    type: str
    at: float
    incident: IncidentData
    id: str = ""

    def to_log(self) -> LogLineData:
        """Exactly one incident-log line: `type`, `at`, `incident`, and the transition's `id`."""
        return {"type": self.type, "at": iso(self.at), "incident": self.incident, "id": self.id}


@dataclass(frozen=True)
class ControlReport:
    """The answer to one control event.

    `outcome` is `applied`, `unchanged` (already so), `not_found` (the API answers 404) or
    `refused` (the request contradicts the state or is invalid; the API answers 4xx).
    """

    at: float | None
    kind: str
    target: str
    outcome: str
    message: str
    data: SilenceData | None = None  # what a silence is now, for a silence or its expiry

    @property
    def ok(self) -> bool:
        return self.outcome in ("applied", "unchanged")

    def to_dict(self) -> ReportData:
        at = None if self.at is None else iso(self.at)
        data: SilenceData | dict[str, object] = (
            {} if self.data is None else copy.deepcopy(self.data)
        )
        return {"at": at, "kind": self.kind, "target": self.target, "outcome": self.outcome,
                "message": self.message, "data": data}  # fmt: skip


def report(
    at: float,
    kind: str,
    target: str,
    outcome: str,
    message: str,
    data: SilenceData | None = None,
) -> ControlReport:
    return ControlReport(at, kind, target, outcome, message, data)


class FindingLogData(TypedDict):
    """One findings line of the incident log: `finding.recorded` (with `finding`) or
    `finding.digest` (with `digest`)."""

    type: str
    at: str
    id: str
    finding: NotRequired[dict[str, Any]]
    digest: NotRequired[dict[str, Any]]


@dataclass(frozen=True)
class FindingRecord:
    """A finding recorded, or a route's digest: one incident-log line (docs/architecture.md)."""

    type: str  # finding.recorded | finding.digest
    at: float
    id: str
    data: dict[str, Any]  # the finding, or the digest

    def to_log(self) -> FindingLogData:
        out: FindingLogData = {"type": self.type, "at": iso(self.at), "id": self.id}
        if self.type == "finding.digest":
            out["digest"] = self.data
        else:
            out["finding"] = self.data
        return out


def is_transition(line: LogLineData | FindingLogData) -> TypeGuard[LogLineData]:
    """An incident's transition, not a findings line."""
    return "incident" in line


Output = Transition | Notification | ControlReport | FindingRecord
