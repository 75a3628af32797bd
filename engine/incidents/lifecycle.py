"""An incident's life, one record per fingerprint: opened -> [updated]* -> resolved -> forgotten.

`incident.updated` is logged when the severity rises (at once) and otherwise at most once per
`update_interval` when the hit count has grown; the resolved line carries the final count.
Severity only rises while an incident is open; a graver incident may join more routes. Labels,
title and runbook come from the opening hit, so an incident's routes stay stable.

A new incident of a rule already past its noise budget is opened and logged but folded into
the rule's storm incident instead of joining any aggregation group (`open_within_budget`, the
one seam between the lifecycle and `engine.incidents.noise_budget`).

`Lifecycle` is a view, as `Escalations` is: it owns nothing and works on the book's records,
groups, muting and timers, so a book's snapshot holds no more than before.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from engine.incidents.config import IncidentsConfig
from engine.incidents.control import Resolve
from engine.incidents.escalation_steps import Escalations
from engine.incidents.model import SEVERITY_RANK, Hit, Output, report
from engine.incidents.noise_budget import NoiseBudget, storm_fingerprint
from engine.incidents.state import Incident
from engine.incidents.timers import FLUSH, FORGET, RESOLVE
from engine.timeutil import iso


class IncidentRecords(NamedTuple):
    """The book's records: the latest incident per fingerprint, and how to find and number them."""

    incidents: dict[str, Incident]  # fingerprint -> latest incident
    ids: dict[str, str]  # incident id -> fingerprint, for records held
    opened: dict[str, int]  # fingerprint -> incidents opened so far


def new_incident(ident: str, fp: str, hit: Hit, config: IncidentsConfig) -> Incident:
    """The record a first hit opens: its labels, title and runbook stay for the incident's life."""
    resolve_after = hit.resolve_after
    incident = Incident(
        id=ident,
        fingerprint=fp,
        source=hit.source,
        rule_id=hit.rule_id,
        title=hit.title,
        severity=hit.severity,
        group=dict(hit.group),
        labels=dict(hit.labels),
        first_seen=hit.time,
        last_seen=hit.time,
        runbook=hit.runbook,
        resolve_after=resolve_after if resolve_after is not None else config.resolve_timeout,
        count=1,
    )
    incident.add_evidence(hit, config.evidence_samples)
    return incident


class Lifecycle:
    """Open, update, resolve and forget incidents; the timers and groups each step touches."""

    __slots__ = (
        "config",
        "escalations",
        "grouping",
        "ids",
        "incidents",
        "muting",
        "noise",
        "opened",
        "timers",
    )

    def __init__(
        self,
        config: IncidentsConfig,
        records: IncidentRecords,
        escalations: Escalations,
        noise: NoiseBudget,
    ) -> None:
        self.config = config
        self.incidents, self.ids, self.opened = records
        self.grouping = escalations.grouping
        self.muting = escalations.muting
        self.timers = escalations.timers
        self.escalations = escalations
        self.noise = noise

    def find(self, ref: str) -> Incident | None:
        """The incident with this id or fingerprint (the latest one for a fingerprint)."""
        fp = ref if ref in self.incidents else self.ids.get(ref)
        return None if fp is None else self.incidents.get(fp)

    def apply_hit(self, hit: Hit, at: float) -> list[Output]:
        """Open, update or (for a detector's explicit end) resolve the hit's incident."""
        incident = self.incidents.get(hit.fingerprint)
        if hit.resolved:
            if incident is not None and incident.open:
                return self.resolve(incident, at, by=hit.source, comment="no longer firing")
            return []
        if incident is None or not incident.open:
            return self.open_within_budget(hit.fingerprint, hit, at)
        return self.update(incident, hit, at)

    def open_within_budget(self, fp: str, hit: Hit, at: float) -> list[Output]:
        """Open the hit's incident; past its rule's noise budget, fold it into a storm.

        A problem that comes back while its last incident is still remembered is not a new
        one: flap suppression already keeps it quiet, so it does not count against the budget.
        """
        previous = self.incidents.get(fp)
        if previous is not None and previous.folded_into is None:
            return self.open(fp, hit, at)
        if not self.noise.over_budget(hit, at):
            return self.open(fp, hit, at)
        out = self._storm_takes(hit, at)
        folded_into = self.incidents[storm_fingerprint(hit.rule_id)].id
        return self.open(fp, hit, at, folded_into=folded_into) + out

    def _storm_takes(self, hit: Hit, at: float) -> list[Output]:
        """Open the rule's storm incident, or count one more hit on the open one."""
        storm_fp = storm_fingerprint(hit.rule_id)
        storm = self.incidents.get(storm_fp)
        new = storm is None or not storm.open
        storm_hit = self.noise.fold(hit, at, new_storm=new)
        summary = self.noise.summary(hit.rule_id)
        if new or storm is None:
            return self.open(storm_fp, storm_hit, at, storm=summary)
        storm.storm = summary
        if storm.group != storm_hit.group:  # narrowed: fewer labels shared by all
            storm.group = dict(storm_hit.group)
            self.muting.inhibitor.changed()
        return self.update(storm, storm_hit, at)

    def open(
        self,
        fp: str,
        hit: Hit,
        at: float,
        *,
        folded_into: str | None = None,
        storm: dict[str, Any] | None = None,
    ) -> list[Output]:
        """A new incident for `fp`, replacing a resolved one still remembered."""
        previous = self.incidents.get(fp)
        if previous is not None:
            self.ids.pop(previous.id, None)
            self.timers.cancel(FORGET, fp)
        number = self.opened.get(fp, 0) + 1
        self.opened[fp] = number
        incident = new_incident(f"{fp[:10]}-{number}", fp, hit, self.config)
        incident.folded_into = folded_into
        incident.storm = storm
        self.incidents[fp] = incident
        self.ids[incident.id] = fp
        self.muting.inhibitor.changed()
        self._schedule_resolve(incident, at)
        out: list[Output] = [incident.log("incident.opened", at)]
        if folded_into is None:  # a folded incident is logged, never routed nor notified
            self._join_groups(incident, at)
        return out

    def update(self, incident: Incident, hit: Hit, at: float) -> list[Output]:
        """One more hit: count it, keep its evidence, and log a rise in severity at once."""
        incident.count += 1
        incident.last_seen = max(incident.last_seen, hit.time)
        incident.add_evidence(hit, self.config.evidence_samples)
        if hit.resolve_after is not None:
            incident.resolve_after = hit.resolve_after
        self._schedule_resolve(incident, at)
        if SEVERITY_RANK[hit.severity] > SEVERITY_RANK[incident.severity]:
            incident.severity = hit.severity
            self.muting.inhibitor.changed()
            if incident.folded_into is None:
                self._join_groups(incident, at)
            return [incident.log("incident.updated", at)]
        if incident.count > incident.logged_count and (
            at >= incident.logged_at + self.config.update_interval
        ):
            return [incident.log("incident.updated", at)]
        return []

    def resolve(self, incident: Incident, at: float, *, by: str, comment: str) -> list[Output]:
        """Resolved: its timers and escalation stop; it is remembered a while, then forgotten."""
        incident.status = "resolved"
        incident.resolution = {"at": iso(at), "by": by}
        if comment:
            incident.resolution["comment"] = comment
        self.timers.cancel(RESOLVE, incident.fingerprint)
        self.escalations.stop(incident)
        self.muting.inhibitor.changed()
        self.timers.schedule(FORGET, incident.fingerprint, at + self.config.resolved_retention)
        return [incident.log("incident.resolved", at)]

    def resolve_on_request(self, event: Resolve, at: float) -> list[Output]:
        """A resolve control event: the incident's resolved line, then always one report."""
        incident = self.find(event.incident)
        if incident is None:
            message = f"resolve for unknown incident {event.incident}"
            return [report(at, "resolve", event.incident, "not_found", message)]
        if not incident.open:
            message = f"{incident.id} is already resolved"
            return [report(at, "resolve", incident.id, "unchanged", message)]
        out = self.resolve(incident, at, by=event.by or "control", comment=event.comment)
        message = f"{incident.id} resolved by {event.by}"
        out.append(report(at, "resolve", incident.id, "applied", message))
        return out

    def resolve_if_due(self, fp: str, at: float) -> list[Output]:
        """The RESOLVE timer: `resolve_after` passed without a hit."""
        incident = self.incidents.get(fp)
        if incident is not None and incident.open:
            return self.resolve(incident, at, by="auto", comment="resolve_after elapsed")
        return []

    def forget(self, fp: str, at: float) -> None:
        """The FORGET timer: drop a resolved incident once no group still counts it."""
        incident = self.incidents.get(fp)
        if incident is None or incident.open:
            return
        if self.grouping.holds(incident):
            self.timers.schedule(FORGET, fp, at + max(self.config.resolved_retention, 1.0))
            return
        del self.incidents[fp]
        self.ids.pop(incident.id, None)

    def _schedule_resolve(self, incident: Incident, now: float) -> None:
        """`resolve_after` counts from the last hit, or from now when that hit came late."""
        if incident.resolve_after is not None:
            due = max(incident.last_seen, now) + incident.resolve_after
            self.timers.schedule(RESOLVE, incident.fingerprint, due)

    def _join_groups(self, incident: Incident, at: float) -> None:
        for key, first_flush in self.grouping.join(incident, at):
            self.timers.schedule(FLUSH, key, first_flush)
