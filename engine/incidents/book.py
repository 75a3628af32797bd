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

Escalation (PagerDuty): a route with `escalation: POLICY` adds the first level's receivers to the
group and starts the incident on the policy when it is first announced. Each level's timeout
without acknowledgement moves it one level up (receivers of that level are paged, an
`incident.escalated` line is logged); after the last level the policy starts over `repeat`
times. An acknowledgement stops it for good; so does resolve. An incident muted when its
timeout ends does not escalate: it is held, and its level gets a full timeout again from the
first flush of its group that includes it unmuted. The incident keeps its snapshot of the policy.
Incidents escalating at the same instant from the same group share one notification.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections import defaultdict
from typing import Any

from engine.incidents.config import IncidentsConfig
from engine.incidents.control import (
    Ack,
    ControlError,
    ControlEvent,
    CreateSilence,
    ExpireSilence,
    Resolve,
    parse_control,
)
from engine.incidents.matchers import matches_all
from engine.incidents.model import SEVERITY_RANK, ControlReport, Hit, Output, Transition
from engine.incidents.noise_budget import NoiseBudget, storm_fingerprint
from engine.incidents.routing import (
    RouteNode,
    RouteOptions,
    build_routes,
    group_key,
    group_labels,
    match_routes,
)
from engine.incidents.silences import Silence
from engine.incidents.state import Escalation, Group, Incident
from engine.timeutil import iso
from notifiers.model import Notification

# Timer kinds, in the order they fire when due at the same instant.
RESOLVE, FLUSH, ESCALATE, FORGET = 0, 1, 2, 3


class IncidentBook:
    """Every incident by fingerprint, the aggregation groups, silences and all timers."""

    def __init__(self, config: IncidentsConfig | None = None) -> None:
        self.config = config if config is not None else IncidentsConfig()
        self._root = build_routes(self.config)
        self._routes: dict[str, RouteNode] = {}
        stack = [self._root]
        while stack:
            node = stack.pop()
            self._routes[node.path] = node
            stack.extend(node.children)
        self._policies = {policy.name: policy for policy in self.config.escalation_policies}
        self._intervals = {interval.name: interval for interval in self.config.time_intervals}
        self._now = float("-inf")
        self._incidents: dict[str, Incident] = {}  # fingerprint -> latest incident
        self._ids: dict[str, str] = {}  # incident id -> fingerprint, for records held
        self._opened: dict[str, int] = {}  # fingerprint -> incidents opened so far
        self._groups: dict[str, Group] = {}
        self._silences: dict[str, Silence] = {
            s.id: Silence(s.id, tuple(s.matchers), s.starts_at, s.ends_at, s.created_by, s.comment)
            for s in self.config.silences
        }
        self._timers: list[tuple[float, int, str, int]] = []
        self._tokens: dict[tuple[int, str], int] = {}
        self._serial = 0
        self._version = 0  # bumps when the set or severity of open incidents changes
        self._inhibit_cache: tuple[int, list[dict[tuple, list[tuple[str, bool]]]]] = (-1, [])
        self._noise = NoiseBudget(self.config.noise_budget)

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
            out += self._ack(event, at)
        elif isinstance(event, Resolve):
            out += self._manual_resolve(event, at)
        elif isinstance(event, CreateSilence):
            out += self._create_silence(event.silence, at)
        elif isinstance(event, ExpireSilence):
            out += self._expire_silence(event, at)
        else:
            raise TypeError(f"not a control event: {event!r}")
        out += self._run_timers(at)
        return out

    def apply_control(self, obj: dict[str, Any], *, where: str = "") -> list[Output]:
        """Parse and apply a control dict; an invalid one yields a `refused` ControlReport."""
        try:
            event = parse_control(obj, where=where)
        except ControlError as exc:
            kind = obj.get("type") if isinstance(obj, dict) else None
            target = ""
            if isinstance(obj, dict):
                target = str(obj.get("incident") or obj.get("id") or "")
            return [ControlReport(None, str(kind or "?"), target, "refused", str(exc))]
        return self.on_control(event)

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
        return [self._silences[k].to_dict(self._now) for k in sorted(self._silences)]

    def is_muted(self, ref: str, at: float | None = None) -> bool:
        """Whether a silence or an inhibition mutes this incident now (or at `at`)."""
        incident = self._find(ref)
        when = self._now if at is None else at
        return incident is not None and self._muted(incident, when)

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
            self._cancel(FORGET, fp)
        number = self._opened.get(fp, 0) + 1
        self._opened[fp] = number
        incident = Incident(
            id=f"{fp[:10]}-{number}",
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
            resolve_after=(
                hit.resolve_after if hit.resolve_after is not None else self.config.resolve_timeout
            ),
            count=1,
            folded_into=folded_into,
            storm=storm,
        )
        incident.add_evidence(hit, self.config.evidence_samples)
        self._incidents[fp] = incident
        self._ids[incident.id] = fp
        self._version += 1
        self._schedule_resolve(incident)
        out: list[Output] = [self._log("incident.opened", incident, at)]
        if folded_into is None:  # a folded incident is logged, never routed nor notified
            self._join_groups(incident, at)
        return out

    def _update(self, incident: Incident, hit: Hit, at: float) -> list[Output]:
        incident.count += 1
        incident.last_seen = max(incident.last_seen, hit.time)
        incident.add_evidence(hit, self.config.evidence_samples)
        if hit.resolve_after is not None:
            incident.resolve_after = hit.resolve_after
        self._schedule_resolve(incident)
        if SEVERITY_RANK[hit.severity] > SEVERITY_RANK[incident.severity]:
            incident.severity = hit.severity
            self._version += 1
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
        self._cancel(RESOLVE, incident.fingerprint)
        self._cancel(ESCALATE, incident.fingerprint)
        if incident.escalation is not None:
            incident.escalation.next_at = None
        self._version += 1
        self._schedule(FORGET, incident.fingerprint, at + self.config.resolved_retention)
        return [self._log("incident.resolved", incident, at)]

    def _schedule_resolve(self, incident: Incident) -> None:
        """`resolve_after` counts from the last hit, or from now when that hit came late."""
        if incident.resolve_after is not None:
            due = max(incident.last_seen, self._now) + incident.resolve_after
            self._schedule(RESOLVE, incident.fingerprint, due)

    def _log(self, kind: str, incident: Incident, at: float) -> Transition:
        incident.logged_count = incident.count
        incident.logged_at = at
        incident.transitions += 1
        return Transition(kind, at, incident.to_dict(), f"{incident.id}/{incident.transitions}")

    def _join_groups(self, incident: Incident, at: float) -> None:
        labels = incident.route_labels()
        for node in match_routes(self._root, labels):
            key = group_key(node, labels)
            if incident.storm is not None:  # a storm is announced on its own, once
                key += "|storm"
            group = self._groups.get(key)
            if group is None:
                group = Group(key, node.path, group_labels(node.options, labels), at)
                self._groups[key] = group
                self._schedule(FLUSH, key, at + node.options.group_wait)
            group.members.add(incident.fingerprint)
            incident.groups.add(key)

    # ------------------------------------------------------------------ timers

    def _schedule(self, kind: int, key: str, due: float) -> None:
        self._serial += 1
        self._tokens[(kind, key)] = self._serial
        heapq.heappush(self._timers, (due, kind, key, self._serial))

    def _cancel(self, kind: int, key: str) -> None:
        self._tokens.pop((kind, key), None)

    def _pop_due(self, until: float) -> tuple[float, int, str] | None:
        while self._timers and self._timers[0][0] <= until:
            due, kind, key, token = heapq.heappop(self._timers)
            if self._tokens.get((kind, key)) == token:
                del self._tokens[(kind, key)]
                return due, kind, key
        return None

    def _run_timers(self, until: float) -> list[Output]:
        out: list[Output] = []
        while (fired := self._pop_due(until)) is not None:
            due, kind, key = fired
            self._now = max(self._now, due)
            at = self._now
            if kind == RESOLVE:
                incident = self._incidents.get(key)
                if incident is not None and incident.open:
                    out += self._resolve(incident, at, by="auto", comment="resolve_after elapsed")
            elif kind == FLUSH:
                out += self._flush(key, at)
            elif kind == ESCALATE:
                batch = [key]
                while self._timers and self._timers[0][:2] == (due, ESCALATE):
                    more = self._pop_due(due)
                    if more is not None:
                        batch.append(more[2])
                out += self._escalate(batch, at)
            else:
                self._forget(key, at)
        self._now = max(self._now, until)
        return out

    def _forget(self, fp: str, at: float) -> None:
        incident = self._incidents.get(fp)
        if incident is None or incident.open:
            return
        if any(fp in self._groups[k].members for k in incident.groups if k in self._groups):
            self._schedule(FORGET, fp, at + max(self.config.resolved_retention, 1.0))
            return
        del self._incidents[fp]
        self._ids.pop(incident.id, None)

    # ------------------------------------------------------------------ muting

    def _route_muted(self, options: RouteOptions, at: float) -> bool:
        if any(self._intervals[name].contains(at) for name in options.mute_time_intervals):
            return True
        active = options.active_time_intervals
        return bool(active) and not any(self._intervals[name].contains(at) for name in active)

    def _muted(self, incident: Incident, at: float) -> bool:
        labels = incident.route_labels()
        if any(silence.mutes(labels, at) for silence in self._silences.values()):
            return True
        return self._inhibited(incident, labels)

    def _inhibit_sources(self) -> list[dict[tuple, list[tuple[str, bool]]]]:
        """Per inhibit rule: equal-label values -> open source incidents (and whether each also
        matches the rule's targets), rebuilt only when open incidents changed."""
        version, index = self._inhibit_cache
        if version == self._version:
            return index
        index = []
        for rule in self.config.inhibit_rules:
            by_equal: dict[tuple, list[tuple[str, bool]]] = defaultdict(list)
            for fp in sorted(self._incidents):
                source = self._incidents[fp]
                labels = source.route_labels()
                if source.open and matches_all(rule.source_matchers, labels):
                    key = tuple(labels.get(name, "") for name in rule.equal)
                    by_equal[key].append((fp, matches_all(rule.target_matchers, labels)))
            index.append(dict(by_equal))
        self._inhibit_cache = (self._version, index)
        return index

    def _inhibited(self, incident: Incident, labels: dict[str, str]) -> bool:
        if not self.config.inhibit_rules:
            return False
        for rule, sources in zip(self.config.inhibit_rules, self._inhibit_sources(), strict=True):
            if not matches_all(rule.target_matchers, labels):
                continue
            both_sides = matches_all(rule.source_matchers, labels)
            key = tuple(labels.get(name, "") for name in rule.equal)
            for fp, source_is_target in sources.get(key, ()):
                # As Alertmanager: an incident never inhibits itself, and incidents matching
                # both sides do not inhibit each other.
                if fp != incident.fingerprint and not (both_sides and source_is_target):
                    return True
        return False

    # ------------------------------------------------------------------ notification

    def _group_receivers(self, options: RouteOptions) -> list[str]:
        receivers = set(options.receivers)
        if options.escalation is not None:
            receivers.update(self._policies[options.escalation].levels[0].receivers)
        return sorted(receivers)

    def _flush(self, key: str, at: float) -> list[Output]:
        group = self._groups.get(key)
        if group is None:
            return []
        options = self._routes[group.route].options
        time_muted = self._route_muted(options, at)
        firing: list[Incident] = []
        resolved: list[Incident] = []
        done: list[str] = []
        muted: set[str] = set()
        for fp in sorted(group.members):
            incident = self._incidents.get(fp)
            if incident is None or not incident.open:
                done.append(fp)
                if (
                    incident is not None
                    and fp in group.notified
                    and options.send_resolved
                    and not time_muted
                    and not self._muted(incident, at)
                ):
                    resolved.append(incident)
            elif incident.status == "firing" and not time_muted:
                if self._muted(incident, at):
                    muted.add(fp)
                else:
                    firing.append(incident)
        out: list[Output] = []
        sent = False
        if not time_muted:
            new = [i for i in firing if i.fingerprint not in group.notified]
            graver = [
                i
                for i in firing
                if i.fingerprint in group.notified
                and SEVERITY_RANK[i.severity] > SEVERITY_RANK[group.notified[i.fingerprint]]
            ]
            repeat = bool(firing) and (
                group.last_notified_at is not None
                and at >= group.last_notified_at + options.repeat_interval
            )
            if new or graver or resolved or repeat:
                if new:
                    transition = "incident.opened"
                elif graver:
                    transition = "incident.updated"
                elif resolved:
                    transition = "incident.resolved"
                else:
                    transition = "incident.updated"
                is_repeat = not (new or graver or resolved)
                payload = [i.to_dict() for i in sorted(firing + resolved, key=lambda i: i.id)]
                status = "firing" if firing else "resolved"
                for receiver in self._group_receivers(options):
                    out.append(
                        self._notification(
                            group, receiver, status, transition, at, payload, is_repeat
                        )
                    )
                out += self._page_resolved_escalations(group, resolved, at, options)
                group.last_notified_at = at
                sent = True
            for incident in firing:
                escalation = incident.escalation
                if escalation is None and options.escalation is not None:
                    self._start_escalation(incident, group, options.escalation, at)
                elif escalation is not None and escalation.held and escalation.group == key:
                    escalation.held = False
                    escalation.next_at = at + escalation.levels[escalation.level][1]
                    self._schedule(ESCALATE, incident.fingerprint, escalation.next_at)
        # What the receivers know is firing: announced now, or earlier and not silenced or
        # inhibited since (so that they hear of it again when the mute ends); acknowledged
        # incidents stay known so that their resolution is announced.
        known = {fp: group.notified[fp] for fp in sorted(group.notified) if fp not in muted}
        if sent:
            known.update((i.fingerprint, i.severity) for i in firing)
        group.notified = {fp: known[fp] for fp in sorted(known) if fp not in done}
        for fp in done:
            group.members.discard(fp)
        if group.members:
            self._schedule(FLUSH, key, at + options.group_interval)
        else:
            del self._groups[key]
        return out

    def _page_resolved_escalations(
        self, group: Group, resolved: list[Incident], at: float, options: RouteOptions
    ) -> list[Output]:
        """Tell receivers paged by escalation (beyond the group's own) that it is over."""
        already = set(self._group_receivers(options))
        extra: dict[str, list[Incident]] = defaultdict(list)
        for incident in resolved:
            escalation = incident.escalation
            if escalation is not None and escalation.group == group.key:
                for receiver in escalation.paged:
                    if receiver not in already:
                        extra[receiver].append(incident)
        return [
            self._notification(
                group,
                receiver,
                "resolved",
                "incident.resolved",
                at,
                [i.to_dict() for i in extra[receiver]],
                False,
            )
            for receiver in sorted(extra)
        ]

    def _notification(
        self,
        group: Group,
        receiver: str,
        status: str,
        transition: str,
        at: float,
        incidents: list[dict[str, Any]],
        repeat: bool,
    ) -> Notification:
        level = max((i["escalation_level"] for i in incidents), default=0)
        identity = [group.key, receiver, transition, at]
        identity.append(
            [[i["id"], i["status"], i["severity"], i["escalation_level"]] for i in incidents]
        )
        digest = hashlib.sha256(json.dumps(identity).encode("utf-8")).hexdigest()[:24]
        return Notification(
            key=f"{transition.removeprefix('incident.')}-{digest}",
            receiver=receiver,
            status=status,
            transition=transition,
            at=iso(at),
            group_labels=dict(group.labels),
            incidents=incidents,
            escalation_level=level,
            repeat=repeat,
        )

    # ------------------------------------------------------------------ escalation

    def _start_escalation(self, incident: Incident, group: Group, name: str, at: float) -> None:
        policy = self._policies[name]
        levels = tuple((tuple(level.receivers), level.timeout) for level in policy.levels)
        incident.escalation = Escalation(
            policy=name,
            levels=levels,
            repeat=policy.repeat,
            group=group.key,
            next_at=at + levels[0][1],
            paged=sorted(set(levels[0][0])),
        )
        self._schedule(ESCALATE, incident.fingerprint, at + levels[0][1])

    def _escalate(self, fingerprints: list[str], at: float) -> list[Output]:
        out: list[Output] = []
        batches: dict[tuple[str, int], list[Incident]] = defaultdict(list)
        for fp in sorted(fingerprints):
            incident = self._incidents.get(fp)
            if incident is None or incident.status != "firing" or incident.escalation is None:
                continue
            state = incident.escalation
            route = self._routes[state.group.split(":", 1)[0]]
            if self._route_muted(route.options, at) or self._muted(incident, at):
                state.next_at = None
                state.held = True  # resumes with a full timeout once announced again
                continue
            level = state.level + 1
            if level >= len(state.levels):
                if state.round >= state.repeat:
                    state.next_at = None  # the policy is exhausted; the incident stays firing
                    continue
                state.round += 1
                level = 0
            state.level = level
            incident.escalation_level = level
            state.paged = sorted(set(state.paged) | set(state.levels[level][0]))
            state.next_at = at + state.levels[level][1]
            self._schedule(ESCALATE, fp, state.next_at)
            out.append(self._log("incident.escalated", incident, at))
            batches[(state.group, level)].append(incident)
        for (key, level), incidents in sorted(batches.items()):
            group = self._groups.get(key) or Group(key, key.split(":", 1)[0], {}, at)
            receivers = sorted(set(incidents[0].escalation.levels[level][0]))
            payload = [i.to_dict() for i in incidents]
            for receiver in receivers:
                out.append(
                    self._notification(
                        group, receiver, "firing", "incident.escalated", at, payload, False
                    )
                )
        return out

    # ------------------------------------------------------------------ control

    def _find(self, ref: str) -> Incident | None:
        fp = ref if ref in self._incidents else self._ids.get(ref)
        return None if fp is None else self._incidents.get(fp)

    def _ack(self, event: Ack, at: float) -> list[Output]:
        incident = self._find(event.incident)
        if incident is None:
            return [
                _report(
                    at,
                    "ack",
                    event.incident,
                    "not_found",
                    f"ack for unknown incident {event.incident}",
                )
            ]
        if not incident.open:
            return [
                _report(
                    at, "ack", incident.id, "refused", f"ack refused: {incident.id} is resolved"
                )
            ]
        if incident.status == "acknowledged":
            return [
                _report(
                    at, "ack", incident.id, "unchanged", f"{incident.id} is already acknowledged"
                )
            ]
        incident.status = "acknowledged"
        incident.acknowledged = {"at": iso(at), "by": event.by}
        if event.comment:
            incident.acknowledged["comment"] = event.comment
        self._cancel(ESCALATE, incident.fingerprint)
        if incident.escalation is not None:
            incident.escalation.next_at = None
        out: list[Output] = [self._log("incident.acknowledged", incident, at)]
        out += self._announce_ack(incident, at)
        out.append(
            _report(at, "ack", incident.id, "applied", f"{incident.id} acknowledged by {event.by}")
        )
        return out

    def _announce_ack(self, incident: Incident, at: float) -> list[Output]:
        """Tell whoever was told about the incident that someone has it (unless it is muted)."""
        if self._muted(incident, at):
            return []
        told: dict[str, Group] = {}
        for key in sorted(incident.groups):
            group = self._groups.get(key)
            if group is None or incident.fingerprint not in group.notified:
                continue
            options = self._routes[group.route].options
            if self._route_muted(options, at):
                continue
            for receiver in self._group_receivers(options):
                told.setdefault(receiver, group)
        escalation = incident.escalation
        if escalation is not None and escalation.group in self._groups:
            for receiver in escalation.paged:
                told.setdefault(receiver, self._groups[escalation.group])
        payload = [incident.to_dict()]
        return [
            self._notification(
                told[receiver], receiver, "firing", "incident.acknowledged", at, payload, False
            )
            for receiver in sorted(told)
        ]

    def _manual_resolve(self, event: Resolve, at: float) -> list[Output]:
        incident = self._find(event.incident)
        if incident is None:
            return [
                _report(
                    at,
                    "resolve",
                    event.incident,
                    "not_found",
                    f"resolve for unknown incident {event.incident}",
                )
            ]
        if not incident.open:
            return [
                _report(
                    at, "resolve", incident.id, "unchanged", f"{incident.id} is already resolved"
                )
            ]
        out = self._resolve(incident, at, by=event.by or "control", comment=event.comment)
        out.append(
            _report(at, "resolve", incident.id, "applied", f"{incident.id} resolved by {event.by}")
        )
        return out

    def _create_silence(self, silence: Silence, at: float) -> list[Output]:
        if silence.ends_at <= at:
            reason = f"silence refused: {silence.id} ends at {iso(silence.ends_at)}, in the past"
            return [_report(at, "silence", silence.id, "refused", reason)]
        existed = silence.id in self._silences
        self._silences[silence.id] = silence
        keep_after = at - self.config.silence_retention  # expired silences stay listable a while
        for ident in [k for k, s in self._silences.items() if s.ends_at < keep_after]:
            del self._silences[ident]
        verb = "updated" if existed else "created"
        return [
            _report(
                at,
                "silence",
                silence.id,
                "applied",
                f"silence {silence.id} {verb} ({silence.state(at)})",
                silence.to_dict(at),
            )
        ]

    def _expire_silence(self, event: ExpireSilence, at: float) -> list[Output]:
        silence = self._silences.get(event.id)
        if silence is None:
            return [
                _report(
                    at,
                    "expire_silence",
                    event.id,
                    "not_found",
                    f"expire for unknown silence {event.id}",
                )
            ]
        if silence.ends_at <= at:
            return [
                _report(
                    at,
                    "expire_silence",
                    event.id,
                    "unchanged",
                    f"silence {event.id} already expired",
                )
            ]
        expired = Silence(
            silence.id,
            silence.matchers,
            min(silence.starts_at, at),
            at,
            silence.created_by,
            silence.comment,
        )
        self._silences[silence.id] = expired
        return [
            _report(
                at,
                "expire_silence",
                event.id,
                "applied",
                f"silence {event.id} expired",
                expired.to_dict(at),
            )
        ]


def _report(
    at: float, kind: str, target: str, outcome: str, message: str, data: dict | None = None
) -> ControlReport:
    return ControlReport(at, kind, target, outcome, message, data or {})
