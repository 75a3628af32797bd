"""Scoring a replay against injected ground truth: which incidents explain which injection.

An incident explains an injected one when it opened in the injection's window (a little
before, for lateness, and up to half an hour after its end), and every label it groups by
either equals the injection's own group or is carried by the injected subject's events in
that window (a team alert for the team of the user whose agent ran away; the repo of a
user's dangerous command). When the incident shares no label with the injection, each of
its values must be the one most of the subject's events carried (the model and region that
took most of a user's failing calls), so a team alert does not explain a model's slowdown
merely because that team used the model. Sharing one value is not enough. A value that lies
wholly inside the injection (every event carrying it in the window is the subject's: one user
of a team whose calls fail) is a slice of it and explains it too, so a drill-down is not a
false incident. An empty label value claims nothing and is left out of the comparison. Fitting
is not enough: the incident must come from a rule or detector that can find the injected kind
(`engine.backtest_kinds`); an injection of a kind the table does not know is matched by fit
alone. Used by `spanwatch demo`, the backtest report and `bench/detection_quality.py`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from engine.backtest_kinds import finders_of
from engine.otlp.aliases import AliasTable
from engine.otlp.line_decoder import DecodeError, decode_line
from engine.otlp.model_identity import ModelCatalog
from engine.timeutil import parse_time
from replay.readers import expand_paths, read_lines

EARLY_ALLOWANCE = 300.0
GRACE_AFTER_END = 1800.0
# Labels an incident may group by that the subject's events can vouch for.
SUBJECT_LABELS = ("user", "team", "repo", "workflow", "model", "region", "session")


_CATALOG = ModelCatalog()


def parse_group(group: object) -> dict[str, str]:
    """An injection's group: a mapping, or the `key=value,key=value` text other tools write."""
    if isinstance(group, dict):
        return {str(k): str(v) for k, v in group.items()}
    if isinstance(group, str):
        pairs = [p.partition("=") for p in group.split(",") if p.strip()]
        if all(sep and k.strip() for k, sep, _v in pairs):
            return {k.strip(): v.strip() for k, _sep, v in pairs}
    raise ValueError(f"an injection's group must be a mapping or key=value pairs, not {group!r}")


class Injection:
    """One injected incident: its window, its group, and the labels its subject's events carry."""

    def __init__(self, truth: dict[str, Any]) -> None:
        self.truth = truth
        self.kind: str = truth["kind"]
        self.severity: str = truth.get("severity", "")
        self.start = parse_time(truth["start"])
        self.end = parse_time(truth["end"])
        self.group = parse_group(truth.get("group", {}))
        # None: a kind the table does not know, matched by labels and time alone
        self.finders = finders_of(self.kind)
        if "model" in self.group:  # the truth may spell the model as the telemetry did
            identity = _CATALOG.identify(self.group["model"])
            if identity.known:
                self.group["model"] = identity.model
        self.labels: dict[str, Counter[str]] = defaultdict(Counter)  # the subject's events
        self.everyone: dict[str, Counter[str]] = defaultdict(Counter)  # all events in the window

    def observe(self, event: dict[str, Any]) -> None:
        """Record the labels of one event in this injection's time (and if it is the subject's)."""
        if not self.start - EARLY_ALLOWANCE <= event["time"] <= self.end:
            return
        values = [
            (k, str(v)) for k in SUBJECT_LABELS if (v := event.get(k)) is not None and v != ""
        ]
        for k, v in values:
            self.everyone[k][v] += 1
        if any(str(event.get(k)) != v for k, v in self.group.items()):
            return
        for k, v in values:
            self.labels[k][v] += 1

    @property
    def kind_known(self) -> bool:
        return self.finders is not None

    def matches(self, incident: dict[str, Any], opened_at: float) -> bool:
        """The incident explains this injection: it fits, and its rule can find the kind."""
        return self.fits(incident, opened_at) and self.can_find(incident)

    def can_find(self, incident: dict[str, Any]) -> bool:
        """The incident's rule or detector watches what this kind of injection changes."""
        return self.finders is None or incident.get("rule_id") in self.finders

    def fits(self, incident: dict[str, Any], opened_at: float) -> bool:
        """The incident's labels and opening time fit this injection, whatever raised it."""
        if not self.start - EARLY_ALLOWANCE <= opened_at <= self.end + GRACE_AFTER_END:
            return False
        # a storm's marker is no label of its subject: a storm matches by the labels its
        # folded incidents share (a team's burst folded per person: the team)
        group = {
            k: str(v)
            for k, v in incident.get("group", {}).items()
            if v not in (None, "") and k != "storm"
        }
        if not group:
            return False
        shares_a_key = any(k in self.group for k in group)
        for k, v in group.items():
            if k in self.group:
                if self.group[k] != v:
                    return False
                continue
            seen = self.labels.get(k, Counter())
            # a label the subject's events vouch for: enough beside a shared key; alone, it
            # must be the value of most of the subject's events (a user's team, the model
            # most of their calls went to; not one of the many teams using a model), or a
            # slice of the subject (no event outside it carries the value)
            if not seen[v]:
                return False
            inside = seen[v] == self.everyone.get(k, Counter())[v]
            if not shares_a_key and 2 * seen[v] <= seen.total() and not inside:
                return False
        return True


def collect_subject_labels(history: Iterable[str], injections: list[Injection]) -> None:
    """Read the history once (plain or gzip) and let every injection see its subject's events."""
    aliases = AliasTable()
    for f in expand_paths(list(history)):
        for _line_no, raw in read_lines(f):
            try:
                events = decode_line(raw, aliases)
            except DecodeError:
                continue
            for event in events:
                if isinstance(event.get("time"), int | float):
                    for inj in injections:
                        inj.observe(event)
