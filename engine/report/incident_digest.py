"""The incident log of a replay, digested for a report: one record per incident with when it
opened and resolved, and per rule or detector how many opened and how noisy they were."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from engine.timeutil import parse_time

QUICK_RESOLVE = 30 * 60.0  # "resolved within minutes": half an hour of event time
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


@dataclass
class LoggedIncident:
    """One incident as the incident log tells it (not the book's live record of it)."""

    id: str
    rule_id: str
    source: str  # rule or detector
    title: str
    severity: str
    group: dict[str, str]
    opened: float
    resolved: float | None = None
    folded: bool = False  # folded into a storm incident


@dataclass
class RuleNoise:
    rule_id: str
    source: str
    severity: str
    opened: int = 0
    resolved_quickly: int = 0
    per_day: float = 0.0
    durations: list[float] = field(default_factory=list)

    @property
    def quick_share(self) -> float:
        return self.resolved_quickly / self.opened if self.opened else 0.0


def digest(lines: list[dict[str, Any]]) -> list[LoggedIncident]:
    """The incidents of an incident log, in the order they opened."""
    by_id: dict[str, LoggedIncident] = {}
    for line in lines:
        kind, inc = line.get("type"), line.get("incident") or {}
        iid = str(inc.get("id", ""))
        if kind == "incident.opened" and iid not in by_id:
            by_id[iid] = LoggedIncident(
                iid,
                str(inc.get("rule_id", "")),
                str(inc.get("source", "")),
                str(inc.get("title", "")),
                str(inc.get("severity", "")),
                {str(k): str(v) for k, v in (inc.get("group") or {}).items()},
                parse_time(line["at"]),
                folded="folded_into" in inc,
            )
        elif kind == "incident.resolved" and iid in by_id:
            by_id[iid].resolved = parse_time(line["at"])
    return sorted(by_id.values(), key=lambda i: (i.opened, i.id))


@dataclass
class RuleFindings:
    """One rule's findings in the log: how many, and the people with the most."""

    rule_id: str
    severity: str
    recorded: int = 0
    users: dict[str, int] = field(default_factory=dict)

    def top_users(self, n: int = 3) -> list[tuple[str, int]]:
        return sorted(self.users.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def findings(lines: list[dict[str, Any]]) -> list[RuleFindings]:
    """Per rule that produces findings, the `finding.recorded` lines; most findings first."""
    by_rule: dict[str, RuleFindings] = {}
    for line in lines:
        if line.get("type") != "finding.recorded":
            continue
        found = line.get("finding") or {}
        rule = str(found.get("rule_id", ""))
        row = by_rule.setdefault(rule, RuleFindings(rule, str(found.get("severity", ""))))
        row.recorded += 1
        user = (found.get("group") or {}).get("user")
        if user:
            row.users[str(user)] = row.users.get(str(user), 0) + 1
    return sorted(by_rule.values(), key=lambda r: (-r.recorded, r.rule_id))


def noise(incidents: list[LoggedIncident], days: float) -> list[RuleNoise]:
    """Per rule or detector: opened, per day of history, share resolved within half an hour;
    noisiest first."""
    rows: dict[str, RuleNoise] = {}
    for inc in incidents:
        row = rows.get(inc.rule_id)
        if row is None:
            row = rows[inc.rule_id] = RuleNoise(inc.rule_id, inc.source, inc.severity)
        row.opened += 1
        if inc.resolved is not None:
            duration = max(0.0, inc.resolved - inc.opened)
            row.durations.append(duration)
            row.resolved_quickly += duration <= QUICK_RESOLVE
    for row in rows.values():
        row.per_day = row.opened / max(days, 1 / 24)
    return sorted(rows.values(), key=lambda r: (-r.opened, r.rule_id))


def severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def count_by_severity(incidents: list[LoggedIncident]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for inc in incidents:
        out[inc.severity] += 1
    return dict(sorted(out.items(), key=lambda kv: severity_rank(kv[0])))
