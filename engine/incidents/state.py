"""The mutable records an IncidentBook keeps: incidents, their escalation, aggregation groups.

Plain dataclasses of plain values, so that Bytewax can pickle the whole book.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from engine.incidents.model import Hit, Transition
from engine.timeutil import iso
from notifiers.model import IncidentData
from rules.evidence import EvidenceSource


@dataclass
class Escalation:
    """Where an incident stands in the escalation policy it was first notified under."""

    policy: str
    levels: tuple[tuple[tuple[str, ...], float], ...]  # (receivers, timeout) snapshot
    repeat: int
    group: str  # the aggregation group that started it (its key)
    route: str  # the path of that group's route (whose muting and receivers apply)
    level: int = 0
    round: int = 0
    next_at: float | None = None
    held: bool = False  # muted when due: waits for the next unmuted flush of its group
    paged: list[str] = field(default_factory=list)  # every receiver paged so far, sorted

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Records saved before the route was kept beside the group take it from the group's
        key, which begins with the route's path and a colon."""
        if "route" not in state:
            state = {**state, "route": state["group"].split(":", 1)[0]}
        self.__dict__.update(state)


@dataclass
class Incident:
    id: str
    fingerprint: str
    source: str
    rule_id: str
    title: str
    severity: str
    group: dict[str, str]
    labels: dict[str, str]
    first_seen: float
    last_seen: float
    runbook: str | None
    resolve_after: float | None
    status: str = "firing"
    count: int = 0
    escalation_level: int = 0
    # {"at", "score"?, "data"}; "data" of a matched event stays raw until it is logged
    samples: list[dict[str, Any]] = field(default_factory=list)
    omitted: int = 0
    acknowledged: dict[str, Any] | None = None
    resolution: dict[str, Any] | None = None
    groups: set[str] = field(default_factory=set)
    escalation: Escalation | None = None
    logged_count: int = 0
    logged_at: float = 0.0
    folded_into: str | None = None  # the storm incident it was folded into (never notified)
    inhibited_by: str | None = None  # the incident an inhibit rule's `fold` folded it into
    announced: bool = False  # some receiver was told of it firing (it can no longer fold)
    storm: dict[str, Any] | None = None  # a storm incident's tally (see noise_budget)
    transitions: int = 0  # logged so far: the number in each transition's id

    @property
    def open(self) -> bool:
        return self.status != "resolved"

    def route_labels(self) -> dict[str, str]:
        """What matchers see: the hit labels, the group labels, then rule_id/severity/source."""
        return {
            **self.labels,
            **self.group,
            "rule_id": self.rule_id,
            "severity": self.severity,
            "source": self.source,
        }

    def log(self, kind: str, at: float) -> Transition:
        """The incident-log line of one transition; the record remembers what it last logged."""
        self.logged_count = self.count
        self.logged_at = at
        self.transitions += 1
        return Transition(kind, at, self.to_dict(), f"{self.id}/{self.transitions}")

    def add_evidence(self, hit: Hit, limit: int) -> None:
        """Keep the first `limit - 1` samples and always the latest one: bounded, deterministic."""
        sample: dict[str, Any] = {"at": iso(hit.time)}
        if hit.score is not None:
            sample["score"] = hit.score
        evidence = hit.evidence
        sample["data"] = evidence if type(evidence) is EvidenceSource else copy.deepcopy(evidence)
        if len(self.samples) < limit:
            self.samples.append(sample)
        else:
            self.samples[-1] = sample
            self.omitted += 1

    def _shown_samples(self) -> list[dict[str, Any]]:
        """The samples with every matched event's evidence built, once: most samples are
        replaced by a later hit before any log line shows them."""
        for sample in self.samples:
            data = sample["data"]
            if type(data) is EvidenceSource:
                sample["data"] = data.build()
        return self.samples

    def to_dict(self) -> IncidentData:
        """The incident as the incident log holds it (docs/architecture.md), plus runbook etc."""
        out: IncidentData = {
            "id": self.id,
            "fingerprint": self.fingerprint,
            "source": self.source,
            "rule_id": self.rule_id,
            "title": self.title,
            "severity": self.severity,
            "status": self.status,
            "group": dict(self.group),
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "count": self.count,
            "escalation_level": self.escalation_level,
            "labels": dict(self.labels),
            "evidence": {"samples": copy.deepcopy(self._shown_samples()), "omitted": self.omitted},
        }
        if self.runbook:
            out["runbook"] = self.runbook
        if self.folded_into:
            out["folded_into"] = self.folded_into
        if self.inhibited_by:
            out["inhibited_by"] = self.inhibited_by
        if self.storm:
            out["storm"] = copy.deepcopy(self.storm)
        if self.acknowledged:
            out["acknowledged"] = dict(self.acknowledged)
        if self.resolution:
            out["resolution"] = dict(self.resolution)
        return out


@dataclass
class Group:
    """An Alertmanager aggregation group: incidents of one route with equal group labels."""

    key: str
    route: str
    labels: dict[str, str]
    created_at: float
    members: set[str] = field(default_factory=set)  # fingerprints
    notified: dict[str, str] = field(default_factory=dict)  # fingerprint -> severity announced
    last_notified_at: float | None = None
