"""IncidentBook: the whole incident lifecycle as one pure, picklable state machine.

Hits, control events and clock ticks go in; transitions (incident-log lines), notifications and
control reports come out. There is no I/O and no wall clock: time is what the caller says
(event time in replay, wall time live) and only moves forward, so a timer never fires twice.
Timers fire at their own due time even when the clock jumps past several of them, in the order
(due, kind, key): for the same time-ordered input, extra clock ticks in between change nothing,
so a replay is byte-identical however often the engine advances the clock.

Lifecycle (`engine.incidents.lifecycle`; one record per fingerprint, so one open incident
per problem): opened -> [updated]* -> [acknowledged] -> resolved, and a later hit re-opens a
new incident. `incident.updated` is logged when the severity rises (at once) and otherwise at
most once per `update_interval` when the hit count has grown; the resolved line carries the
final count. Labels, title and runbook come from the opening hit, so an incident's routes stay
stable.

Notification (Alertmanager's dispatcher and notify pipeline, per aggregation group; grouped
in `engine.incidents.grouping`, muted by `engine.incidents.muting`, flushed by
`engine.incidents.flush`):
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
`Lifecycle.open_within_budget` is the one seam between the lifecycle and the budget.

Findings (`engine.incidents.findings`): the hit of a rule that produces findings is logged as
a `finding.recorded` line and counted, never opened as an incident; a DIGEST timer at the end
of each digest period hands each route its digest.

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
from engine.incidents.book_snapshots import upgrade_snapshot
from engine.incidents.config import IncidentsConfig
from engine.incidents.control import Ack, ControlEvent, CreateSilence, ExpireSilence, Resolve
from engine.incidents.escalation_steps import Escalations
from engine.incidents.findings import Findings
from engine.incidents.flush import flush_group
from engine.incidents.grouping import Grouping
from engine.incidents.lifecycle import IncidentRecords, Lifecycle
from engine.incidents.model import Hit, Output
from engine.incidents.muting import Muting
from engine.incidents.noise_budget import NoiseBudget
from engine.incidents.route_tree import build_routes
from engine.incidents.silences import SilenceData
from engine.incidents.state import Incident
from engine.incidents.timers import DIGEST, ESCALATE, FLUSH, RESOLVE, Due, Timers
from notifiers.model import IncidentData


class IncidentBook:
    """The incident stage's facade: inputs go to the part whose job they are, in time order.

    Its state is the parts themselves: the records (incidents by fingerprint, ids, counters),
    the groups, the muting, the timers and the noise budget. Lifecycle and escalation are
    views over them, built when needed, so that a snapshot holds the parts and nothing more.
    """

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
        self._findings = Findings(self.config.findings)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Books snapshotted by earlier versions resume where they stopped."""
        self.__dict__.update(upgrade_snapshot(state))

    def reconfigure(self, config: IncidentsConfig) -> None:
        """Take `config` (the one a restarted engine was given) in place of the one this book
        was saved with, keeping its state: incidents, groups, silences created by control
        events, timers and noise tallies. Open incidents join the groups of the routes they
        match now (a new route's receivers hear of them at its first flush); groups of routes
        now gone are dropped. Escalations keep the policy they started with."""
        if config is self.config:
            return
        old, self.config = self.config, config
        if config == old:
            return
        self._policies = {policy.name: policy for policy in config.escalation_policies}
        self._grouping = self._grouping.reroute(build_routes(config), self._incidents)
        self._muting.reconfigure(old, config, self._incidents)
        self._noise.config = config.noise_budget
        self._findings.config = config.findings
        for fp in sorted(self._incidents):
            incident = self._incidents[fp]
            if incident.open and incident.folded_into is None:
                for key, first_flush in self._grouping.join(incident, self._now):
                    self._timers.schedule(FLUSH, key, first_flush)

    @property
    def _escalations(self) -> Escalations:
        """Escalation stepping over this book's parts (a view: nothing of it is saved)."""
        return Escalations(
            self._incidents, self._grouping, self._muting, self._timers, self._policies
        )

    @property
    def _lifecycle(self) -> Lifecycle:
        """Incident lifecycle over this book's parts (a view: nothing of it is saved)."""
        records = IncidentRecords(self._incidents, self._ids, self._opened)
        return Lifecycle(self.config, records, self._escalations, self._noise)

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
        if hit.produces == "finding":  # counted for its routes' digest, never an incident
            root, window = self._grouping.root, self.config.resolve_timeout
            return out + self._findings.take(hit, self._now, root, window, self._timers)
        out += self._lifecycle.apply_hit(hit, self._now)
        out += self._run_timers(self._now)  # zero waits take effect at once
        return out

    def on_control(self, event: ControlEvent) -> list[Output]:
        """Apply an ack, resolve, silence or expiry at its own time; always one ControlReport."""
        out = self._run_timers(event.at)
        at = self._now
        if isinstance(event, Ack):
            incident = self._find(event.incident)
            out += acknowledge(incident, event, at, self._escalations)
        elif isinstance(event, Resolve):
            out += self._lifecycle.resolve_on_request(event, at)
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

    def incident(self, ref: str) -> IncidentData | None:
        """The incident with this id or fingerprint (the latest one for a fingerprint)."""
        incident = self._find(ref)
        return None if incident is None else incident.to_dict()

    def open_incidents(self) -> list[IncidentData]:
        found = (i for i in self._incidents.values() if i.open)
        return [i.to_dict() for i in sorted(found, key=lambda i: i.id)]

    def silences(self) -> list[SilenceData]:
        """Every silence known, with its state (pending, active, expired) at the current time."""
        return self._muting.silencer.listing(self._now)

    def _find(self, ref: str) -> Incident | None:
        return self._lifecycle.find(ref)

    # ------------------------------------------------------------------ timers

    def _run_timers(self, until: float) -> list[Output]:
        out: list[Output] = []
        while (due := self._timers.pop_due(until)) is not None:
            self._now = max(self._now, due.at)
            out += self._fire(due, self._now)
        self._now = max(self._now, until)
        return out

    def _fire(self, due: Due, at: float) -> list[Output]:
        """Each timer to the part it belongs to."""
        if due.kind == RESOLVE:
            return self._lifecycle.resolve_if_due(due.key, at)
        if due.kind == FLUSH:
            return flush_group(due.key, at, self._escalations)
        if due.kind == ESCALATE:
            return self._escalations.step(self._timers.pop_same(due), at)
        if due.kind == DIGEST:
            return list(self._findings.digest(at))
        self._lifecycle.forget(due.key, at)
        return []
