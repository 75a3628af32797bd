"""IncidentBook: the whole incident lifecycle as one pure, picklable state machine.

Hits, control events and clock ticks go in; transitions (incident-log lines), notifications and
control reports come out. There is no I/O and no wall clock: time is what the caller says
(event time in replay, wall time live) and only moves forward, so a timer never fires twice.
Timers fire at their own due time even when the clock jumps past several of them, in the order
(due, kind, key): for the same time-ordered input, extra clock ticks in between change nothing,
so a replay is byte-identical however often the engine advances the clock.

Lifecycle (one record per fingerprint, so one open incident per problem):
  opened -> [updated]* -> [acknowledged] -> resolved, and a later hit re-opens a new incident.
  `incident.updated` is logged when the severity rises (at once) and otherwise at most once per
  `update_interval` when the hit count has grown; the resolved line carries the final count.
  Severity only rises while an incident is open; a graver incident may join more routes.
  Labels, title and runbook come from the opening hit, so an incident's routes stay stable.

Notification (Alertmanager's dispatcher and notify pipeline, per aggregation group):
  every route an incident matches puts it into a group (route + group_by labels). A group
  flushes `group_wait` after it is created, then every `group_interval`. At a flush, incidents
  muted by a time interval of the route, a silence or an inhibition are left out; the group
  notifies each receiver when an incident is new to it or graver than announced, when an
  announced incident resolved (`send_resolved`), or when `repeat_interval` has passed with
  something still firing. Acknowledged incidents are not repeated. Resolved ones leave the group.
  Groups track fingerprints, as Alertmanager tracks label sets: a problem that resolves and
  returns between two flushes looks, to receivers, as if it never stopped (flap suppression).

Noise budgets (`engine.incidents.noise_budget`): a new incident of a rule already past its
budget is opened and logged but folded into the rule's storm incident instead of joining any
aggregation group; the storm incident is grouped on its own, so it is announced once.
`_open_within_budget` is the one seam between the lifecycle and the budget.

Escalation (PagerDuty; stepped in `engine.incidents.escalation_steps`, acknowledged in
`engine.incidents.acknowledgement`): a route with `escalation: POLICY` adds the first level's
receivers to the group and starts the incident on the policy when it is first announced. Each level's timeout
without acknowledgement moves it one level up (receivers of that level are paged, an
`incident.escalated` line is logged); after the last level the policy starts over `repeat`
times. An acknowledgement stops it for good; so does resolve. An incident muted when its
timeout ends does not escalate: it is held, and its level gets a full timeout again from the
first flush of its group that includes it unmuted. The incident keeps its snapshot of the policy.
Incidents escalating at the same instant from the same group share one notification.
"""

from __future__ import annotations

from typing import Any

from engine.incidents.acknowledgement import acknowledge
from engine.incidents.config import IncidentsConfig
from engine.incidents.control import Ack, ControlEvent, CreateSilence, ExpireSilence, Resolve
from engine.incidents.escalation_steps import Escalations
from engine.incidents.grouping import (
    Decision,
    Grouping,
    Members,
    needs_notify,
    notification,
    record_flush,
    sort_members,
)
from engine.incidents.model import SEVERITY_RANK, Hit, Output, Transition, report
from engine.incidents.muting import Muting
from engine.incidents.noise_budget import NoiseBudget, storm_fingerprint
from engine.incidents.route_tree import RouteOptions, build_routes
from engine.incidents.state import Group, Incident
from engine.incidents.timers import ESCALATE, FLUSH, FORGET, RESOLVE, Due, Timers
from engine.timeutil import iso


class IncidentBook:
    """Every incident by fingerprint; groups, muting and timers live in their own parts."""

    def __init__(self, config: IncidentsConfig | None = None) -> None:
        self.config = config if config is not None else IncidentsConfig()
        self._now = float("-inf")
        self._incidents: dict[str, Incident] = {}  # fingerprint -> latest incident
        self._ids: dict[str, str] = {}  # incident id -> fingerprint, for records held
        self._opened: dict[str, int] = {}  # fingerprint -> incidents opened so far
        self._policies = {policy.name: policy for policy in self.config.escalation_policies}
        self._grouping = Grouping(build_routes(self.config))
        self._muting = Muting(self.config, self._incidents)
        self._timers = Timers()
        self._noise = NoiseBudget(self.config.noise_budget)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Books snapshotted before the split into parts resume where they stopped."""
        self.__dict__.update(state)
        if "_grouping" not in state:
            _migrate_flat_book(self, state)

    @property
    def _escalations(self) -> Escalations:
        """Escalation stepping over this book's parts (a view: nothing of it is saved)."""
        return Escalations(
            self._incidents, self._grouping, self._muting, self._timers, self._policies
        )

    # ------------------------------------------------------------------ inputs

    @property
    def now(self) -> float:
        return self._now

    def advance(self, now: float) -> list[Output]:
        """Move the clock to `now` (never backwards) and fire every timer due by then."""
        return self._run_timers(now)

    def on_hit(self, hit: Hit, at: float | None = None) -> list[Output]:
        """Open, update or (for a detector's explicit end) resolve the hit's incident.

        `at`: when the hit is applied, if not at its own event time. The live engine applies
        hits at the wall clock, so that a sender's clock cannot move the book's.
        """
        out = self._run_timers(hit.time if at is None else at)
        at = self._now
        fp = hit.fingerprint
        incident = self._incidents.get(fp)
        if hit.resolved:
            if incident is not None and incident.open:
                out += self._resolve(incident, at, by=hit.source, comment="no longer firing")
        elif incident is None or not incident.open:
            out += self._open_within_budget(fp, hit, at)
        else:
            out += self._update(incident, hit, at)
        out += self._run_timers(at)  # zero waits take effect at once
        return out

    def on_control(self, event: ControlEvent) -> list[Output]:
        """Apply an ack, resolve, silence or expiry at its own time; always one ControlReport."""
        out = self._run_timers(event.at)
        at = self._now
        if isinstance(event, Ack):
            out += acknowledge(self._find(event.incident), event, at, self._escalations, self._log)
        elif isinstance(event, Resolve):
            out += self._manual_resolve(event, at)
        elif isinstance(event, CreateSilence):
            retention = self.config.silence_retention  # expired ones stay listable a while
            out.append(self._muting.silencer.create(event.silence, at, retention))
        elif isinstance(event, ExpireSilence):
            out.append(self._muting.silencer.expire(event, at))
        else:
            raise TypeError(f"not a control event: {event!r}")
        out += self._run_timers(at)
        return out

    # ------------------------------------------------------------------ queries

    def incident(self, ref: str) -> dict[str, Any] | None:
        """The incident with this id or fingerprint (the latest one for a fingerprint)."""
        incident = self._find(ref)
        return None if incident is None else incident.to_dict()

    def open_incidents(self) -> list[dict[str, Any]]:
        found = (i for i in self._incidents.values() if i.open)
        return [i.to_dict() for i in sorted(found, key=lambda i: i.id)]

    def silences(self) -> list[dict[str, Any]]:
        """Every silence known, with its state (pending, active, expired) at the current time."""
        return self._muting.silencer.listing(self._now)

    # ------------------------------------------------------------------ lifecycle

    def _open_within_budget(self, fp: str, hit: Hit, at: float) -> list[Output]:
        """Open the hit's incident; past its rule's noise budget, fold it into a storm.

        A problem that comes back while its last incident is still remembered is not a new
        one: flap suppression already keeps it quiet, so it does not count against the budget.
        """
        previous = self._incidents.get(fp)
        if previous is not None and previous.folded_into is None:
            return self._open(fp, hit, at)
        noise = self.__dict__.get("_noise")
        if noise is None:  # a book saved before noise budgets existed
            noise = self._noise = NoiseBudget(self.config.noise_budget)
        if not noise.over_budget(hit, at):
            return self._open(fp, hit, at)
        storm_fp = storm_fingerprint(hit.rule_id)
        storm = self._incidents.get(storm_fp)
        new = storm is None or not storm.open
        storm_hit = noise.fold(hit, at, new_storm=new)
        summary = noise.summary(hit.rule_id)
        if new or storm is None:
            out = self._open(storm_fp, storm_hit, at, storm=summary)
        else:
            storm.storm = summary
            if storm.group != storm_hit.group:  # narrowed: fewer labels shared by all
                storm.group = dict(storm_hit.group)
                self._muting.inhibitor.changed()
            out = self._update(storm, storm_hit, at)
        folded_into = self._incidents[storm_fp].id
        return self._open(fp, hit, at, folded_into=folded_into) + out

    def _open(
        self,
        fp: str,
        hit: Hit,
        at: float,
        *,
        folded_into: str | None = None,
        storm: dict[str, Any] | None = None,
    ) -> list[Output]:
        previous = self._incidents.get(fp)
        if previous is not None:
            self._ids.pop(previous.id, None)
            self._timers.cancel(FORGET, fp)
        number = self._opened.get(fp, 0) + 1
        self._opened[fp] = number
        incident = self._new_incident(f"{fp[:10]}-{number}", fp, hit)
        incident.folded_into = folded_into
        incident.storm = storm
        self._incidents[fp] = incident
        self._ids[incident.id] = fp
        self._muting.inhibitor.changed()
        self._schedule_resolve(incident)
        out: list[Output] = [self._log("incident.opened", incident, at)]
        if folded_into is None:  # a folded incident is logged, never routed nor notified
            self._join_groups(incident, at)
        return out

    def _new_incident(self, ident: str, fp: str, hit: Hit) -> Incident:
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
            resolve_after=resolve_after
            if resolve_after is not None
            else self.config.resolve_timeout,
            count=1,
        )
        incident.add_evidence(hit, self.config.evidence_samples)
        return incident

    def _update(self, incident: Incident, hit: Hit, at: float) -> list[Output]:
        incident.count += 1
        incident.last_seen = max(incident.last_seen, hit.time)
        incident.add_evidence(hit, self.config.evidence_samples)
        if hit.resolve_after is not None:
            incident.resolve_after = hit.resolve_after
        self._schedule_resolve(incident)
        if SEVERITY_RANK[hit.severity] > SEVERITY_RANK[incident.severity]:
            incident.severity = hit.severity
            self._muting.inhibitor.changed()
            if incident.folded_into is None:
                self._join_groups(incident, at)
            return [self._log("incident.updated", incident, at)]
        if incident.count > incident.logged_count and (
            at >= incident.logged_at + self.config.update_interval
        ):
            return [self._log("incident.updated", incident, at)]
        return []

    def _resolve(self, incident: Incident, at: float, *, by: str, comment: str) -> list[Output]:
        incident.status = "resolved"
        incident.resolution = {"at": iso(at), "by": by}
        if comment:
            incident.resolution["comment"] = comment
        self._timers.cancel(RESOLVE, incident.fingerprint)
        self._escalations.stop(incident)
        self._muting.inhibitor.changed()
        self._timers.schedule(FORGET, incident.fingerprint, at + self.config.resolved_retention)
        return [self._log("incident.resolved", incident, at)]

    def _schedule_resolve(self, incident: Incident) -> None:
        """`resolve_after` counts from the last hit, or from now when that hit came late."""
        if incident.resolve_after is not None:
            due = max(incident.last_seen, self._now) + incident.resolve_after
            self._timers.schedule(RESOLVE, incident.fingerprint, due)

    def _log(self, kind: str, incident: Incident, at: float) -> Transition:
        incident.logged_count = incident.count
        incident.logged_at = at
        incident.transitions += 1
        return Transition(kind, at, incident.to_dict(), f"{incident.id}/{incident.transitions}")

    def _join_groups(self, incident: Incident, at: float) -> None:
        for key, first_flush in self._grouping.join(incident, at):
            self._timers.schedule(FLUSH, key, first_flush)

    def _forget(self, fp: str, at: float) -> None:
        incident = self._incidents.get(fp)
        if incident is None or incident.open:
            return
        if self._grouping.holds(incident):
            self._timers.schedule(FORGET, fp, at + max(self.config.resolved_retention, 1.0))
            return
        del self._incidents[fp]
        self._ids.pop(incident.id, None)

    # ------------------------------------------------------------------ timers

    def _run_timers(self, until: float) -> list[Output]:
        out: list[Output] = []
        while (due := self._timers.pop_due(until)) is not None:
            self._now = max(self._now, due.at)
            out += self._fire(due, self._now)
        self._now = max(self._now, until)
        return out

    def _fire(self, due: Due, at: float) -> list[Output]:
        if due.kind == RESOLVE:
            incident = self._incidents.get(due.key)
            if incident is not None and incident.open:
                return self._resolve(incident, at, by="auto", comment="resolve_after elapsed")
            return []
        if due.kind == FLUSH:
            return self._flush(due.key, at)
        if due.kind == ESCALATE:
            return self._escalations.step(self._timers.pop_same(due), at, self._log)
        self._forget(due.key, at)
        return []

    # ------------------------------------------------------------------ notification

    def _flush(self, key: str, at: float) -> list[Output]:
        """One group's flush, as Alertmanager's pipeline: mute -> dedup -> notify -> record."""
        group = self._grouping.groups.get(key)
        if group is None:
            return []
        options = self._grouping.options(group)
        members = sort_members(group, self._incidents, options, self._muting, at)
        decision = needs_notify(group, members, at, options.repeat_interval)
        out = self._notify(group, options, members, decision, at) if decision else []
        self._escalations.advance(group, options, members.firing, at)
        record_flush(group, members, sent=decision is not None)
        if group.members:
            self._timers.schedule(FLUSH, key, at + options.group_interval)
        else:
            del self._grouping.groups[key]
        return out

    def _notify(
        self, group: Group, options: RouteOptions, members: Members, decision: Decision, at: float
    ) -> list[Output]:
        """The notify stage: one message per receiver, and the end of escalations paged."""
        escalations = self._escalations
        chosen = sorted(members.firing + members.resolved, key=lambda i: i.id)
        payload = [i.to_dict() for i in chosen]
        status = "firing" if members.firing else "resolved"
        out: list[Output] = [
            notification(group, receiver, status, decision.transition, at, payload, decision.repeat)
            for receiver in escalations.receivers(options)
        ]
        out += escalations.resolved_pages(group, members.resolved, at, options)
        group.last_notified_at = at
        return out

    # ------------------------------------------------------------------ control

    def _find(self, ref: str) -> Incident | None:
        fp = ref if ref in self._incidents else self._ids.get(ref)
        return None if fp is None else self._incidents.get(fp)

    def _manual_resolve(self, event: Resolve, at: float) -> list[Output]:
        incident = self._find(event.incident)
        if incident is None:
            message = f"resolve for unknown incident {event.incident}"
            return [report(at, "resolve", event.incident, "not_found", message)]
        if not incident.open:
            message = f"{incident.id} is already resolved"
            return [report(at, "resolve", incident.id, "unchanged", message)]
        out = self._resolve(incident, at, by=event.by or "control", comment=event.comment)
        message = f"{incident.id} resolved by {event.by}"
        out.append(report(at, "resolve", incident.id, "applied", message))
        return out


def _migrate_flat_book(book: IncidentBook, state: dict[str, Any]) -> None:
    """Rebuild the parts of a book pickled when it kept routes, silences and timers itself."""
    grouping = Grouping(state["_root"])
    grouping.groups = state["_groups"]
    muting = Muting(book.config, book._incidents)
    muting.silencer.silences = state["_silences"]
    timers = Timers()
    timers._heap = state["_timers"]
    timers._tokens = state["_tokens"]
    timers._serial = state["_serial"]
    old = ("_root", "_routes", "_intervals", "_groups", "_silences", "_timers", "_tokens")
    for name in (*old, "_serial", "_version", "_inhibit_cache"):
        book.__dict__.pop(name, None)
    book._grouping, book._muting, book._timers = grouping, muting, timers
