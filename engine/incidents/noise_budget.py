"""Noise budgets: past its budget, a rule's new incidents fold into one storm incident.

A rule that matches far too much (a mis-tuned allow-list, a threshold below normal traffic)
or a real outbreak opens incidents by the hundred, and on-call would be paged for each. Each
rule and detector may open `incidents` incidents per `per` (default 10 an hour; a rule's
`spanwatch: {noise-budget: N}`, a detector's `noise_budget: N`, `off` for none). An incident
opened while its rule already opened that many in the trailing period is still opened and
logged, but is folded: it is not routed, notified or escalated, and carries the id of its
rule's storm incident (`folded_into`). The storm incident is what on-call hears of, once: it
names the rule as the likely cause, counts the incidents folded into it, lists their most
frequent groups (`storm`), takes the gravest severity among them, and resolves itself one
period after the last incident folded into it. Its group is `{storm: over-budget}` plus the
labels every incident of the storm shares, the ones that tripped the budget included (a team's
burst folded per person is `{storm: over-budget, team: checkout}`), so routes, silences and
inhibition written for that team match the storm too. The labels are the incidents' groups
and the subject of the event that fired a rule (its user, team, repository, workflow, model,
region); the group narrows as incidents that share less fold in.

The budget counts every incident its rule opened in the period, folded or not, so a storm
ends as soon as the rule is back under its budget.

A rule may also open at most `per_day` incidents in any trailing day (default 20), whatever
its hourly budget: a steady drizzle (one an hour, every hour) never trips an hourly budget yet
pages on-call two dozen times a day. Past the daily budget its incidents fold the same way, and
the storm stays open one day after the last incident folded into it, so a drizzle is one storm
notification, not one per gap between its drops.

State is bounded: per rule, the times of its last `max(incidents, per_day)` openings and the
labels of its last `incidents`, and per storm, counts for at most `MAX_GROUPS` groups.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from engine.incidents.config import NoiseBudgetConfig
from engine.incidents.model import SEVERITY_RANK, Hit, fingerprint

STORM_GROUP = {"storm": "over-budget"}
MAX_GROUPS = 1000  # groups counted per storm; the rest are counted together
DAY = 86400.0
SUBJECT = ("user", "team", "repo", "workflow", "model", "region")  # of a rule's firing event


def subject_labels(hit: Hit) -> dict[str, str]:
    """What an incident is about: its group, and for a rule the subject of the event that
    fired it (a rule grouped by person still names the person's team)."""
    out: dict[str, str] = {}
    last = hit.evidence.get("last_event") if type(hit.evidence) is dict else None
    if isinstance(last, dict):
        out = {k: str(last[k]) for k in SUBJECT if last.get(k) not in (None, "")}
    out.update((k, str(v)) for k, v in hit.group.items())
    return out


def shared(labels: dict[str, str] | None, other: dict[str, str]) -> dict[str, str]:
    """The labels two label sets agree on (`None`: nothing seen yet, so all of `other`)."""
    if labels is None:
        return dict(other)
    return {k: v for k, v in labels.items() if other.get(k) == v}


def storm_fingerprint(rule_id: str) -> str:
    """The fingerprint of a rule's storm incident."""
    return fingerprint(rule_id, STORM_GROUP)


@dataclass
class StormTally:
    """What one storm has folded so far."""

    limit: int
    per: float = 3600.0  # the period whose budget the storm's rule exceeded
    folded: int = 0
    severity: str = "info"
    groups: dict[tuple[tuple[str, str], ...], int] = field(default_factory=dict)
    other_groups: int = 0
    common: dict[str, str] | None = None  # labels every incident of the storm shares

    def add(self, hit: Hit) -> None:
        self.common = shared(self.__dict__.get("common"), subject_labels(hit))
        self.folded += 1
        if SEVERITY_RANK[hit.severity] > SEVERITY_RANK[self.severity]:
            self.severity = hit.severity
        key = tuple(sorted(hit.group.items()))
        if key in self.groups or len(self.groups) < MAX_GROUPS:
            self.groups[key] = self.groups.get(key, 0) + 1
        else:
            self.other_groups += 1

    def summary(self, rule_id: str, top: int) -> dict[str, Any]:
        ranked = sorted(self.groups.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = ranked[:top]
        return {
            "rule_id": rule_id,
            "budget": self.limit,
            "per_seconds": self.per,
            "folded": self.folded,
            "top_groups": [{"group": dict(k), "incidents": n} for k, n in shown],
            "other_groups": len(ranked) - len(shown) + (1 if self.other_groups else 0),
        }


class NoiseBudget:
    """Per rule: its recent openings and its current storm. Plain data, so it pickles."""

    def __init__(self, config: NoiseBudgetConfig) -> None:
        self.config = config
        self._opened: dict[str, deque[float]] = {}
        self._storms: dict[str, StormTally] = {}
        self._exceeded: dict[str, tuple[int, float]] = {}  # rule -> (budget, period) last past
        # rule -> (when, subject labels) of its last openings: what a new storm starts sharing
        self._recent: dict[str, deque[tuple[float, dict[str, str]]]] = {}

    def daily(self, limit: int | None) -> int | None:
        """The daily budget of a rule whose hourly budget is `limit` (None: exempt)."""
        per_day = getattr(self.config, "per_day", None)  # a config saved before it existed
        if limit is None or per_day is None:
            return None
        return max(per_day, limit) if self.config.per < DAY else None

    def limit(self, hit: Hit) -> int | None:
        """The hit's rule's budget; None when it has none."""
        if hit.noise_budget is not None:
            return hit.noise_budget or None
        return self.config.incidents if self.config.enabled else None

    def over_budget(self, hit: Hit, at: float) -> bool:
        """Record that `hit` opens an incident at `at`; whether its rule is past its budget."""
        limit = self.limit(hit)
        if limit is None:
            return False
        daily = self.daily(limit)
        keep = max(limit, daily or 0)
        times = self._opened.get(hit.rule_id)
        if times is None:
            times = self._opened[hit.rule_id] = deque(maxlen=keep)
        elif times.maxlen != keep:  # the rule was reloaded with another budget
            times = self._opened[hit.rule_id] = deque(times, maxlen=keep)
        per = self.config.per
        over = None
        if len(times) >= limit and times[-limit] > at - per:
            over = (limit, per)
        elif daily is not None and len(times) == daily and times[0] > at - DAY:
            over = (daily, DAY)
        if over is not None:
            self.__dict__.setdefault("_exceeded", {})[hit.rule_id] = over  # older saves lack it
        times.append(at)
        recent = self.__dict__.setdefault("_recent", {})  # older saves lack it
        mine = recent.get(hit.rule_id)
        if mine is None or mine.maxlen != limit:
            mine = recent[hit.rule_id] = deque(mine or (), maxlen=limit)
        if over is None:  # a folded one counts through its storm's tally
            mine.append((at, subject_labels(hit)))
        return over is not None

    def fold(self, hit: Hit, at: float, *, new_storm: bool) -> Hit:
        """Count `hit`'s incident into its rule's storm; the hit that opens or updates it."""
        limit, per = self.__dict__.get("_exceeded", {}).get(
            hit.rule_id, (self.limit(hit) or 0, self.config.per)
        )
        tally = None if new_storm else self._storms.get(hit.rule_id)
        if tally is None:
            tally = self._storms[hit.rule_id] = StormTally(limit, per)
            # what tripped the budget is the storm's too: the rule's openings in the period
            for t, labels in self.__dict__.get("_recent", {}).get(hit.rule_id, ()):
                if t > at - per:
                    tally.common = shared(tally.common, labels)
        elif per > tally.per:  # a storm of the hour that goes on all day
            tally.limit, tally.per = limit, per
        tally.add(hit)
        limit, per = tally.limit, tally.per
        return Hit(
            source=hit.source,
            rule_id=hit.rule_id,
            title=(
                f"Alert storm: {hit.rule_id} opened more than {limit} incidents in "
                f"{_duration(per)}; further ones are folded here. Likely cause: the "
                f"{'rule' if hit.source == 'rule' else 'detector'} {hit.rule_id} is mis-tuned, "
                "or a real outbreak"
            ),
            severity=tally.severity,
            time=at,
            group={**(tally.common or {}), **STORM_GROUP},
            labels={**hit.labels, "storm": "true"},
            evidence={"folded_group": dict(hit.group)},
            runbook=hit.runbook,
            resolve_after=per,
            noise_budget=0,
        )

    def summary(self, rule_id: str) -> dict[str, Any]:
        tally = self._storms.get(rule_id)
        if tally is None:
            return {}
        return tally.summary(rule_id, self.config.top_groups)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
