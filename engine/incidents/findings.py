"""Findings: what a rule that `produces: finding` raises instead of an incident.

A code-quality signal (a pull request opened while the session's own tests failed) is worth
knowing and counting, but ordinary people do it several times a day: paged, it floods on-call
and drowns the incidents that matter. As Sigma keeps its informational and low levels for
hunting and reports, and Datadog tells signals from notifications, such a rule's hits are
recorded here and never routed, notified nor escalated:

- the first hit of a problem (rule and group) writes one `finding.recorded` line to the
  incident log; hits of the same problem within its `resolve_after` (else
  `incidents.resolve_timeout`, else the digest period) only count into it, as they would
  into an open incident;
- every `findings.digest_interval` (a day by default, aligned on the interval in UTC), each
  route that findings of the period reach gets one `finding.digest` line and one notification
  per receiver of the route (never its escalation): how many findings per rule, the teams and
  users with the most, and a few examples. Alertmanager's long `group_interval` for a digest.

State is bounded: the problems seen within their window, and per route of the current period
counters capped at `MAX_KEYS` keys each and `examples` examples.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from engine.incidents.config import FindingsConfig
from engine.incidents.model import FindingRecord, Hit
from engine.incidents.noise_budget import subject_labels
from engine.incidents.route_tree import RouteNode, match_routes
from engine.incidents.timers import DIGEST as DIGEST_TIMER
from engine.incidents.timers import Timers
from engine.timeutil import iso
from notifiers.model import IncidentData, Notification
from rules.evidence import shown

RECORDED = "finding.recorded"
DIGEST = "finding.digest"
DIGEST_KEY = "findings"  # the book's one digest timer
DIGEST_RULE = "findings-digest"
MAX_KEYS = 1000  # rules, teams or users counted per route and period; the rest as "other"


@dataclass
class RouteTally:
    """What one route's findings came to in the current digest period."""

    findings: int = 0
    hits: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    teams: Counter[str] = field(default_factory=Counter)
    users: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, record: dict[str, Any], subject: dict[str, str], examples: int) -> None:
        self.findings += 1
        for counter, key in (
            (self.rules, record["rule_id"]),
            (self.teams, subject.get("team")),
            (self.users, subject.get("user")),
        ):
            if key:
                counter[key if key in counter or len(counter) < MAX_KEYS else "(other)"] += 1
        if len(self.examples) < examples:
            self.examples.append(
                {k: copy.deepcopy(record[k]) for k in ("id", "rule_id", "group", "first_seen")}
                | {"evidence": copy.deepcopy(record["evidence"]["samples"][0]["data"])}
            )


@dataclass
class Open:
    """A problem with a finding in its window: later hits count into that finding."""

    route_paths: tuple[str, ...]
    last_seen: float
    window: float


class Findings:
    """Recorded findings and the current period's digest per route. Plain data: it pickles."""

    def __init__(self, config: FindingsConfig) -> None:
        self.config = config
        self._open: dict[str, Open] = {}  # fingerprint -> its finding's window
        self._routes: dict[str, RouteTally] = {}  # route path -> this period's tally
        self._receivers: dict[str, tuple[str, ...]] = {}  # route path -> its receivers
        self.period_end: float | None = None  # when the pending digest is due

    def take(
        self, hit: Hit, at: float, root: RouteNode, window: float | None, timers: Timers
    ) -> list[FindingRecord]:
        """A finding's hit in the book: recorded, and the digest timer armed for its period.
        A detector's end changes nothing (a finding has nothing to resolve)."""
        if hit.resolved:
            return []
        out = self.record(hit, at, root, window)
        if self.period_end is None:
            timers.schedule(DIGEST_TIMER, DIGEST_KEY, self.due(at))
        return out

    def record(
        self, hit: Hit, at: float, root: RouteNode, default_window: float | None
    ) -> list[FindingRecord]:
        """Count `hit`; a `finding.recorded` line when it is a new problem's first."""
        fp = hit.fingerprint
        known = self._open.get(fp)
        if known is not None and hit.time <= known.last_seen + known.window:
            known.last_seen = max(known.last_seen, hit.time)
            for path in known.route_paths:
                self._tally(path).hits += 1
            return []
        # named by its first hit's time: unique (a problem's next finding starts after this
        # one's window) without remembering every problem ever seen
        record = finding_dict(hit, f"{fp[:10]}-f{round(hit.time * 1000)}")
        labels = {**record["labels"], **record["group"], "rule_id": hit.rule_id,
                  "severity": hit.severity, "source": hit.source, "produces": "finding"}  # fmt: skip
        nodes = match_routes(root, labels)
        window = hit.resolve_after or default_window or self.config.digest_interval
        self._open[fp] = Open(tuple(n.path for n in nodes), hit.time, window)
        subject = {**hit.labels, **subject_labels(hit)}
        for node in nodes:
            self._receivers[node.path] = node.options.receivers
            tally = self._tally(node.path)
            tally.hits += 1
            tally.add(record, subject, self.config.examples)
        return [FindingRecord(RECORDED, at, f"{record['id']}/1", record)]

    def _tally(self, path: str) -> RouteTally:
        tally = self._routes.get(path)
        if tally is None:
            tally = self._routes[path] = RouteTally()
        return tally

    def due(self, at: float) -> float:
        """When the digest of the period holding `at` is due (the period's end, in UTC)."""
        every = self.config.digest_interval
        self.period_end = (at // every + 1) * every
        return self.period_end

    def digest(self, at: float) -> list[FindingRecord | Notification]:
        """The period's digests, one line and one notification per receiver for each route."""
        out: list[FindingRecord | Notification] = []
        start = at - self.config.digest_interval
        for path in sorted(self._routes):
            summary = self._summary(path, self._routes[path], start, at)
            out.append(FindingRecord(DIGEST, at, f"digest/{path}/{iso(at)}", summary))
            for receiver in self._receivers.get(path, ()):
                out.append(digest_notification(receiver, summary, at))
        self._routes = {}
        self.period_end = None
        self._open = {fp: o for fp, o in self._open.items() if o.last_seen + o.window >= at}
        return out

    def _summary(self, path: str, tally: RouteTally, start: float, end: float) -> dict[str, Any]:
        top = self.config.top
        return {
            "route": path,
            "from": iso(start),
            "to": iso(end),
            "findings": tally.findings,
            "hits": tally.hits,
            "rules": dict(sorted(tally.rules.items(), key=lambda kv: (-kv[1], kv[0]))),
            "top_teams": _top(tally.teams, top),
            "top_users": _top(tally.users, top),
            "examples": copy.deepcopy(tally.examples),
        }


def _top(counter: Counter[str], n: int) -> list[dict[str, Any]]:
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [{"name": name, "findings": count} for name, count in ranked]


def finding_dict(hit: Hit, ident: str) -> dict[str, Any]:
    """The finding as the incident log holds it: an incident's fields that apply to it."""
    sample: dict[str, Any] = {"at": iso(hit.time), "data": copy.deepcopy(shown(hit.evidence))}
    if hit.score is not None:
        sample["score"] = hit.score
    out: dict[str, Any] = {
        "id": ident,
        "fingerprint": hit.fingerprint,
        "source": hit.source,
        "rule_id": hit.rule_id,
        "title": hit.title,
        "severity": hit.severity,
        "group": dict(hit.group),
        "labels": dict(hit.labels),
        "first_seen": iso(hit.time),
        "evidence": {"samples": [sample], "omitted": 0},
    }
    if hit.runbook:
        out["runbook"] = hit.runbook
    return out


def digest_title(summary: dict[str, Any]) -> str:
    """`Findings digest: 37 findings (pr-without-passing-assertion 30, …)` for a headline."""
    rules = ", ".join(f"{rule} {n}" for rule, n in list(summary["rules"].items())[:3])
    more = len(summary["rules"]) - 3
    rules += f", {more} more rules" if more > 0 else ""
    return (
        f"Findings digest, {summary['from']} to {summary['to']}: {summary['findings']} "
        f"findings ({rules}); not paged"
    )


def digest_notification(receiver: str, summary: dict[str, Any], at: float) -> Notification:
    """The digest as one incident-shaped entry, so every channel renders it as it is: the
    counts in the title, the whole summary in the evidence (redacted when sent)."""
    entry: IncidentData = {
        "id": f"digest/{summary['route']}/{summary['to']}",
        "fingerprint": f"digest/{summary['route']}",
        "source": "rule",
        "rule_id": DIGEST_RULE,
        "title": digest_title(summary),
        "severity": "info",
        "status": "firing",
        "group": {"digest": "findings"},
        "first_seen": summary["from"],
        "last_seen": summary["to"],
        "count": summary["findings"],
        "escalation_level": 0,
        "labels": {"digest": "findings"},
        "evidence": {"samples": [{"at": summary["to"], "data": summary}], "omitted": 0},
    }
    return Notification(
        key=f"{DIGEST}:{summary['route']}:{receiver}:{summary['to']}",
        receiver=receiver,
        status="firing",
        transition=DIGEST,
        at=iso(at),
        group_labels={"digest": "findings"},
        incidents=[entry],
    )
