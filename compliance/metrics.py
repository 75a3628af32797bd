"""Per team and ISO week: sessions, policy hits per rule category, pull requests, risky hits.

Policy adherence of a category is the share of a team's sessions in the week with no hit of
a rule of that category (`any`: of any rule). A pull request passes when an assertion passed
in its session during the day before it. Credential and dangerous-command hits are counted per
thousand sessions, so teams of any size compare.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from compliance.weeks import week_label, week_start

ANY = "any"
UNKNOWN_TEAM = "unknown"
PR_EVENT = "pr.create"
ASSERTION_EVENT = "assertion"
PR_WINDOW = 86400.0


@dataclass
class TeamWeek:
    """What one team did in one week (session ids are kept to count each session once)."""

    sessions: set[str] = field(default_factory=set)
    hit_sessions: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    rule_hits: Counter[str] = field(default_factory=Counter)
    credential_hits: int = 0
    dangerous_hits: int = 0
    pull_requests: int = 0
    passing_pull_requests: int = 0


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class ComplianceTally:
    """Accumulates events and rule hits (in any order) into `TeamWeek`s."""

    def __init__(
        self,
        categories: Iterable[str],
        credential_rules: Iterable[str],
        dangerous_rules: Iterable[str],
    ) -> None:
        self.categories = sorted(set(categories))
        self.credential_rules = frozenset(credential_rules)
        self.dangerous_rules = frozenset(dangerous_rules)
        self.weeks: dict[tuple[str, float], TeamWeek] = defaultdict(TeamWeek)
        # per session: the times of its pull requests (with team) and of its passed assertions
        self._prs: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self._passes: dict[str, list[float]] = defaultdict(list)

    def _cell(self, event: Mapping[str, Any]) -> TeamWeek:
        team = _text(event.get("team")) or UNKNOWN_TEAM
        return self.weeks[(team, week_start(float(event["time"])))]

    def add_event(self, event: Mapping[str, Any]) -> None:
        session = _text(event.get("session"))
        cell = self._cell(event)
        if session is None:
            return
        cell.sessions.add(session)
        name = event.get("name")
        if name == PR_EVENT:
            self._prs[session].append((float(event["time"]), _text(event.get("team")) or ""))
        elif name == ASSERTION_EVENT and event.get("assertion.passed") is True:
            self._passes[session].append(float(event["time"]))

    def add_hit(self, event: Mapping[str, Any], rule_id: str, category: str | None) -> None:
        cell = self._cell(event)
        cell.rule_hits[rule_id] += 1
        session = _text(event.get("session"))
        if session is not None:
            cell.hit_sessions[ANY].add(session)
            if category:
                cell.hit_sessions[category].add(session)
        if rule_id in self.credential_rules:
            cell.credential_hits += 1
        if rule_id in self.dangerous_rules:
            cell.dangerous_hits += 1

    def _settle_pull_requests(self) -> None:
        for session, prs in self._prs.items():
            passes = sorted(self._passes.get(session, ()))
            for t, team in prs:
                cell = self.weeks[(team or UNKNOWN_TEAM, week_start(t))]
                cell.pull_requests += 1
                if any(t - PR_WINDOW <= p <= t for p in passes):
                    cell.passing_pull_requests += 1
        self._prs.clear()

    def rows(self) -> list[dict[str, Any]]:
        """One row per team and week, in team then week order."""
        self._settle_pull_requests()
        out = []
        for (team, start), cell in sorted(self.weeks.items()):
            n = len(cell.sessions)
            clean = {c: n - len(cell.hit_sessions.get(c, ())) for c in [ANY, *self.categories]}
            out.append(
                {
                    "team": team,
                    "week": week_label(start),
                    "week_start": start,
                    "sessions": n,
                    "clean_sessions": clean,
                    "adherence": {c: (k / n if n else None) for c, k in clean.items()},
                    "pull_requests": cell.pull_requests,
                    "pull_requests_with_passing_assertion": cell.passing_pull_requests,
                    "pull_request_pass_share": (
                        cell.passing_pull_requests / cell.pull_requests
                        if cell.pull_requests
                        else None
                    ),
                    "credential_hits": cell.credential_hits,
                    "credential_hits_per_1000_sessions": _per_thousand(cell.credential_hits, n),
                    "dangerous_command_hits": cell.dangerous_hits,
                    "dangerous_command_hits_per_1000_sessions": _per_thousand(
                        cell.dangerous_hits, n
                    ),
                    "rule_hits": dict(sorted(cell.rule_hits.items())),
                }
            )
        return out


def _per_thousand(hits: int, sessions: int) -> float | None:
    return round(1000.0 * hits / sessions, 3) if sessions else None
