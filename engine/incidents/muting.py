"""What keeps an incident out of a notification, as Alertmanager's muters do.

`Muting.mutes(labels, at, route)` is the one question: is this incident quiet on this route
now, by a silence, an inhibition or one of the route's time intervals? A flush also needs to
know which: time intervals mute whole routes, not label sets (`Muting.route_muted`), and a
route muted by time keeps what its receivers were told, while a silenced incident is
forgotten by them so that they hear of it again when the silence ends. Muting changes
notifications, never the incident log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from engine.incidents.config import IncidentsConfig, InhibitRule
from engine.incidents.control import ExpireSilence
from engine.incidents.matchers import matches_all
from engine.incidents.model import ControlReport, report
from engine.incidents.route_tree import RouteOptions
from engine.incidents.silences import Silence, SilenceData
from engine.incidents.state import Incident
from engine.incidents.timeintervals import TimeInterval
from engine.timeutil import iso

# Per inhibit rule: the values of its `equal` labels -> open source incidents, each with
# whether it also matches the rule's targets.
InhibitIndex = list[dict[tuple[str, ...], list[tuple[str, bool]]]]


class Silencer:
    """The silences known to the book: configured ones, then those created by control events."""

    def __init__(self, silences: Iterable[Silence] = ()) -> None:
        self.silences: dict[str, Silence] = {s.id: s for s in silences}

    def mutes(self, labels: Mapping[str, str], at: float) -> bool:
        return any(silence.mutes(labels, at) for silence in self.silences.values())

    def listing(self, at: float) -> list[SilenceData]:
        """Every silence, with its state (pending, active, expired) at `at`."""
        return [self.silences[k].to_dict(at) for k in sorted(self.silences)]

    def create(self, silence: Silence, at: float, retention: float) -> ControlReport:
        """Add or replace a silence; silences expired more than `retention` ago are dropped."""
        if silence.ends_at <= at:
            reason = f"silence refused: {silence.id} ends at {iso(silence.ends_at)}, in the past"
            return report(at, "silence", silence.id, "refused", reason)
        existed = silence.id in self.silences
        self.silences[silence.id] = silence
        keep_after = at - retention
        for ident in [k for k, s in self.silences.items() if s.ends_at < keep_after]:
            del self.silences[ident]
        verb = "updated" if existed else "created"
        message = f"silence {silence.id} {verb} ({silence.state(at)})"
        return report(at, "silence", silence.id, "applied", message, silence.to_dict(at))

    def expire(self, event: ExpireSilence, at: float) -> ControlReport:
        """End a silence now; it stays listed as expired."""
        silence = self.silences.get(event.id)
        if silence is None:
            message = f"expire for unknown silence {event.id}"
            return report(at, "expire_silence", event.id, "not_found", message)
        if silence.ends_at <= at:
            message = f"silence {event.id} already expired"
            return report(at, "expire_silence", event.id, "unchanged", message)
        expired = Silence(
            silence.id,
            silence.matchers,
            min(silence.starts_at, at),
            at,
            silence.created_by,
            silence.comment,
        )
        self.silences[silence.id] = expired
        message = f"silence {event.id} expired"
        return report(at, "expire_silence", event.id, "applied", message, expired.to_dict(at))


class Inhibitor:
    """Open incidents matching an inhibit rule's sources mute its targets with equal labels.

    As Alertmanager: incidents matching both sides of a rule do not inhibit each other (so an
    incident never inhibits itself). The index of sources is rebuilt only after `changed()`,
    which the book calls whenever the set or the severity of open incidents changes.
    """

    def __init__(self, rules: list[InhibitRule], incidents: Mapping[str, Incident]) -> None:
        self.rules = rules
        self._incidents = incidents  # the book's own mapping, read only
        self._version = 0
        self._index: tuple[int, InhibitIndex] = (-1, [])

    def changed(self) -> None:
        self._version += 1

    def mutes(self, labels: Mapping[str, str], at: float) -> bool:
        return self.source(labels) is not None

    def source(self, labels: Mapping[str, str]) -> tuple[InhibitRule, str] | None:
        """The first rule muting these labels, and the open source incident (its id) that
        mutes them through it; None when nothing inhibits them."""
        if not self.rules:
            return None
        for rule, sources in zip(self.rules, self._sources(), strict=True):
            if not matches_all(rule.target_matchers, labels):
                continue
            both_sides = matches_all(rule.source_matchers, labels)
            key = tuple(labels.get(name, "") for name in rule.equal)
            for fp, is_target in sources.get(key, ()):
                if not (both_sides and is_target):
                    return rule, self._incidents[fp].id
        return None

    def _sources(self) -> InhibitIndex:
        version, index = self._index
        if version == self._version:
            return index
        index = []
        for rule in self.rules:
            by_equal: dict[tuple[str, ...], list[tuple[str, bool]]] = defaultdict(list)
            for fp in sorted(self._incidents):
                source = self._incidents[fp]
                labels = source.route_labels()
                if source.open and matches_all(rule.source_matchers, labels):
                    key = tuple(labels.get(name, "") for name in rule.equal)
                    by_equal[key].append((fp, matches_all(rule.target_matchers, labels)))
            index.append(dict(by_equal))
        self._index = (self._version, index)
        return index


class Muting:
    """Silences, inhibitions and time intervals: every reason to stay quiet, in one place."""

    def __init__(self, config: IncidentsConfig, incidents: Mapping[str, Incident]) -> None:
        self.silencer = Silencer(
            Silence(s.id, tuple(s.matchers), s.starts_at, s.ends_at, s.created_by, s.comment)
            for s in config.silences
        )
        self.inhibitor = Inhibitor(config.inhibit_rules, incidents)
        self.intervals: dict[str, TimeInterval] = {i.name: i for i in config.time_intervals}

    def reconfigure(
        self, old: IncidentsConfig, new: IncidentsConfig, incidents: Mapping[str, Incident]
    ) -> None:
        """Take `new`'s inhibit rules, time intervals and configured silences (those only
        `old` configured go), keeping the silences created through the API."""
        silences = self.silencer.silences
        for ident in {s.id for s in old.silences} - {s.id for s in new.silences}:
            silences.pop(ident, None)
        for s in Muting(new, incidents).silencer.silences.values():
            silences[s.id] = s
        self.inhibitor = Inhibitor(new.inhibit_rules, incidents)
        self.intervals = {i.name: i for i in new.time_intervals}

    def mutes(
        self, labels: Mapping[str, str], at: float, route: RouteOptions | None = None
    ) -> bool:
        """Whether these incident labels are muted at `at`: by a silence, an inhibition or,
        given the `route` they are sent on, one of its time intervals."""
        if route is not None and self.route_muted(route, at):
            return True
        return self.silencer.mutes(labels, at) or self.inhibitor.mutes(labels, at)

    def mutes_firing(self, incident: Incident, at: float) -> bool:
        """Whether a firing incident is muted at `at` by a silence or an inhibition.

        An incident muted by an inhibit rule with `fold` before any receiver was told of it
        is folded into the source for good (`inhibited_by`): it stays muted until it
        resolves, even when the source resolves first. A person failing inside their team's
        outage is part of that outage, not a page of its own once the team recovers.
        """
        if incident.inhibited_by is not None:
            return True
        labels = incident.route_labels()
        if self.silencer.mutes(labels, at):
            return True
        found = self.inhibitor.source(labels)
        if found is None:
            return False
        rule, source_id = found
        if getattr(rule, "fold", False) and not incident.announced:  # rules saved before it
            incident.inhibited_by = source_id
        return True

    def route_muted(self, options: RouteOptions, at: float) -> bool:
        """Whether the route's time intervals mute it at `at` (mute_ or outside active_)."""
        if any(self.intervals[name].contains(at) for name in options.mute_time_intervals):
            return True
        active = options.active_time_intervals
        return bool(active) and not any(self.intervals[name].contains(at) for name in active)
