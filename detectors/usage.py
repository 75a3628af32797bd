"""Usage rollups for dashboards: what the organisation's calls add up to, by team, repo,
workflow, model and region, with a bounded number of label values.

The detectors roll the same events up per key to find anomalies; dashboards want the totals
themselves: calls, errors, tokens, cost, latency, prompt-cache hits, policy hits, and how many
people were active in the last day and week. `UsageRollup.observe` takes one normalised event
(and the ids of the policy rules it hit) and keeps:

- running totals per label combination (`totals`, `latency`, `policy_hits`): monotonic, as
  Prometheus counters and histograms want them;
- per-minute aggregates of event time (`drain_minutes`), as CloudWatch takes them, only when
  `minutes=True`;
- the people active in the last day and week, overall and per team, repo and workflow
  (`active_users`), by event time: the newest event time seen is "now", so a replay and the
  live engine count alike;
- each person's calls, tokens and cost of the current UTC day, for a top-N (`top_users`).

Bounded memory and label cardinality: each label keeps its first `max_values` distinct values
as they are, later ones become `other`; a missing value is `unknown`; at most `max_series`
label combinations get their own series, later ones are counted under `other` in every label.
People are remembered up to `max_users` (the least recently active forgotten first).

A call is a `claude.invoke` span or a `claude_code.api_request` / `claude_code.api_error`
log event. A session that sent `claude.invoke` spans is counted from its spans only (Claude
Code's events of the same calls are left out), as the default detectors count each call once.

>>> u = UsageRollup()
>>> u.observe({"time": 60.0, "name": "claude.invoke", "team": "pay", "user": "ann",
...            "tokens_in": 10, "tokens_out": 5, "cost": 0.5, "latency_ms": 900.0,
...            "cache_hit": True, "status": "ok"}, ["unapproved-model"])
>>> [(k.team, t.calls, t.tokens_in, t.cache_hits) for k, t in u.totals.items()]
[('pay', 1, 10.0, 1)]
>>> u.active_users("1d")["all"], dict(u.policy_hits)
(1, {('unapproved-model', 'pay', 'unknown', 'unknown'): 1})
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeGuard

DIMENSIONS = ("team", "repo", "workflow", "model", "region")
OTHER = "other"
UNKNOWN = "unknown"
SPAN_CALL = "claude.invoke"
LOG_CALLS = frozenset({"claude_code.api_request", "claude_code.api_error"})
WINDOWS = {"1d": 86400.0, "7d": 7 * 86400.0}
# Latency histogram bounds, in seconds (a cache hit answers in well under a second, a long
# generation takes minutes).
LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0)
MINUTE = 60.0


class Labels(NamedTuple):
    """One label combination of the usage series."""

    team: str
    repo: str
    workflow: str
    model: str
    region: str


ALL_OTHER = Labels(OTHER, OTHER, OTHER, OTHER, OTHER)


@dataclass
class Totals:
    """What the calls of one label combination add up to."""

    calls: int = 0
    errors: int = 0
    tokens_in: float = 0.0
    tokens_out: float = 0.0
    cost: float = 0.0
    cache_hits: int = 0
    cache_lookups: int = 0  # calls that said whether they hit the prompt cache
    latency_ms: Counter[float] = field(default_factory=Counter)  # minute buckets only

    def add(self, event: dict[str, Any], keep_latency: bool) -> None:
        self.calls += 1
        if event.get("status") == "error":
            self.errors += 1
        self.tokens_in += _number(event.get("tokens_in"))
        self.tokens_out += _number(event.get("tokens_out"))
        self.cost += _number(event.get("cost"))
        hit = event.get("cache_hit")
        if isinstance(hit, bool):
            self.cache_lookups += 1
            self.cache_hits += hit
        if keep_latency:
            ms = event.get("latency_ms")
            if _finite(ms) and ms >= 0:
                self.latency_ms[round_latency(ms)] += 1


@dataclass
class Minute:
    """One minute of event time: totals per (team, repo, workflow), per (model, region), the
    policy hits per (team, repo, workflow), and the whole organisation."""

    start: float
    by_scope: dict[tuple[str, str, str], Totals] = field(default_factory=dict)
    by_model: dict[tuple[str, str], Totals] = field(default_factory=dict)
    policy_hits: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    overall: Totals = field(default_factory=Totals)


class LabelBudget:
    """The first `max_values` distinct values of one label keep their name; later ones are
    `other`. Stable: a value never changes series once it has one."""

    def __init__(self, max_values: int) -> None:
        self.max_values = max_values
        self.kept: set[str] = set()

    def __call__(self, value: Any) -> str:
        if value is None or value == "":
            return UNKNOWN
        text = value if type(value) is str else str(value)
        if text in self.kept:
            return text
        if len(self.kept) < self.max_values:
            self.kept.add(text)
            return text
        return OTHER


class LastSeen:
    """When each member was last active, least recent first, at most `cap` members."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.at: OrderedDict[str, float] = OrderedDict()

    def touch(self, member: str, t: float) -> None:
        old = self.at.pop(member, None)
        self.at[member] = t if old is None else max(old, t)
        if len(self.at) > self.cap:
            self.at.popitem(last=False)

    def count_since(self, since: float) -> int:
        return sum(1 for t in self.at.values() if t >= since)

    def forget_before(self, since: float) -> None:
        while self.at:
            member, t = next(iter(self.at.items()))
            if t >= since:
                break
            del self.at[member]


@dataclass
class UserDay:
    """One person's calls, tokens and cost in one UTC day (event time)."""

    day: int
    calls: int = 0
    tokens: float = 0.0
    cost: float = 0.0


class UsageRollup:
    """The usage series of a stream of normalised events (see the module's docstring)."""

    def __init__(
        self,
        *,
        max_values: int = 100,
        max_series: int = 2000,
        max_users: int = 200_000,
        max_sessions: int = 100_000,
        minutes: bool = False,
    ) -> None:
        self.labels = {d: LabelBudget(max_values) for d in DIMENSIONS}
        self.rule_labels = LabelBudget(max_values)
        self.max_series = max_series
        self.max_users = max_users
        self.totals: dict[Labels, Totals] = {}
        self.latency: dict[Labels, list[int]] = {}  # per bucket (and +Inf), not cumulative
        self.latency_sum: dict[Labels, float] = {}
        self.policy_hits: Counter[tuple[str, str, str, str]] = Counter()
        self.users: dict[str, LastSeen] = {"all": LastSeen(max_users)}
        self.scoped_users: dict[str, dict[str, LastSeen]] = {
            d: {} for d in ("team", "repo", "workflow")
        }
        self.user_days: OrderedDict[str, UserDay] = OrderedDict()
        self.span_sessions = LastSeen(max_sessions)
        self.now = -math.inf  # the newest event time seen
        self.keep_minutes = minutes
        self.minutes: dict[float, Minute] = {}

    # -- input ------------------------------------------------------------------------------

    def observe(self, event: dict[str, Any], policy_hits: list[str] | tuple[str, ...] = ()) -> None:
        """Count one normalised event, and the ids of the policy rules it hit."""
        t = event.get("time")
        if not _finite(t):
            return
        if t > self.now:
            self.now = t
        name = event.get("name")
        session = event.get("session")
        if name == SPAN_CALL and session:
            self.span_sessions.touch(str(session), t)
        is_call = name == SPAN_CALL or (
            name in LOG_CALLS and not (session and str(session) in self.span_sessions.at)
        )
        if not is_call and not policy_hits:
            return
        key = self._key(event)
        minute = self._minute(t) if self.keep_minutes else None
        if is_call:
            self._call(event, key, t, minute)
        for rule_id in policy_hits:
            self.policy_hits[(self.rule_labels(rule_id), key.team, key.repo, key.workflow)] += 1
            if minute is not None:
                minute.policy_hits[(key.team, key.repo, key.workflow)] += 1

    def _call(self, event: dict[str, Any], key: Labels, t: float, minute: Minute | None) -> None:
        totals = self.totals.get(key)
        if totals is None:
            totals = self.totals[key] = Totals()
            self.latency[key] = [0] * (len(LATENCY_BUCKETS) + 1)
            self.latency_sum[key] = 0.0
        totals.add(event, keep_latency=False)
        ms = event.get("latency_ms")
        if _finite(ms) and ms >= 0:
            seconds = ms / 1000.0
            self.latency[key][_bucket(seconds)] += 1
            self.latency_sum[key] += seconds
        if minute is not None:
            scope = (key.team, key.repo, key.workflow)
            (minute.by_scope.get(scope) or minute.by_scope.setdefault(scope, Totals())).add(
                event, keep_latency=True
            )
            by_model = (key.model, key.region)
            (minute.by_model.get(by_model) or minute.by_model.setdefault(by_model, Totals())).add(
                event, keep_latency=True
            )
            minute.overall.add(event, keep_latency=True)
        user = event.get("user")
        if user is None or user == "":
            return
        user = str(user)
        self.users["all"].touch(user, t)
        for dim, value in (("team", key.team), ("repo", key.repo), ("workflow", key.workflow)):
            scoped = self.scoped_users[dim].get(value)
            if scoped is None:
                scoped = self.scoped_users[dim][value] = LastSeen(self.max_users)
            scoped.touch(user, t)
        self._user_day(user, event, t)

    def _user_day(self, user: str, event: dict[str, Any], t: float) -> None:
        day = int(t // 86400.0)
        record = self.user_days.pop(user, None)
        if record is None or record.day < day:
            record = UserDay(day)
        self.user_days[user] = record  # most recently active last
        if len(self.user_days) > self.max_users:
            self.user_days.popitem(last=False)
        if record.day > day:
            return  # a late event of a day already over for this person
        record.calls += 1
        record.tokens += _number(event.get("tokens_in")) + _number(event.get("tokens_out"))
        record.cost += _number(event.get("cost"))

    def _key(self, event: dict[str, Any]) -> Labels:
        labels, get = self.labels, event.get
        key = Labels(
            labels["team"](get("team")),
            labels["repo"](get("repo")),
            labels["workflow"](get("workflow")),
            labels["model"](get("model")),
            labels["region"](get("region")),
        )
        if key in self.totals or len(self.totals) < self.max_series:
            return key
        return ALL_OTHER

    def _minute(self, t: float) -> Minute:
        start = (t // MINUTE) * MINUTE
        minute = self.minutes.get(start)
        if minute is None:
            minute = self.minutes[start] = Minute(start)
        return minute

    # -- output -----------------------------------------------------------------------------

    def drain_minutes(self) -> list[Minute]:
        """The minutes gathered since the last drain, oldest first (a late event's minute may
        come again: CloudWatch adds what is put for the same minute)."""
        minutes, self.minutes = self.minutes, {}
        return [minutes[start] for start in sorted(minutes)]

    def active_users(self, window: str) -> dict[str, int]:
        """People with a call in the last `window` ("1d" or "7d") of event time: `all`, and
        per team."""
        since = self.now - WINDOWS[window]
        out = {"all": self.users["all"].count_since(since)}
        for team, seen in self.scoped_users["team"].items():
            out[team] = seen.count_since(since)
        return out

    def active_users_by(self, dimension: str, window: str) -> dict[str, int]:
        """People with a call in the last `window`, per repo or workflow."""
        since = self.now - WINDOWS[window]
        return {
            value: seen.count_since(since) for value, seen in self.scoped_users[dimension].items()
        }

    def forget_inactive(self) -> None:
        """Drop people not seen for longer than the longest window (called now and then)."""
        since = self.now - max(WINDOWS.values())
        for seen in [
            self.users["all"],
            *(s for d in self.scoped_users.values() for s in d.values()),
        ]:
            seen.forget_before(since)

    def top_users(self, n: int, measure: str) -> list[tuple[str, float]]:
        """The `n` people with the most `measure` (calls, tokens or cost) in the current UTC
        day of event time, then everyone else as `other` (when there is anyone else)."""
        if n <= 0:
            return []
        today = int(self.now // 86400.0) if math.isfinite(self.now) else 0
        values = [
            (user, float(getattr(record, measure)))
            for user, record in self.user_days.items()
            if record.day == today
        ]
        values.sort(key=lambda kv: (-kv[1], kv[0]))
        top, rest = values[:n], values[n:]
        if rest:
            top.append((OTHER, sum(v for _, v in rest)))
        return top


def round_latency(ms: float) -> float:
    """A latency to two significant digits: at most ~180 distinct values from 1 ms to 1000 s,
    so a minute's latencies fit in a few CloudWatch value arrays."""
    if ms <= 0:
        return 0.0
    digits = 1 - math.floor(math.log10(ms))
    return round(ms, digits)


def _bucket(seconds: float) -> int:
    for i, bound in enumerate(LATENCY_BUCKETS):
        if seconds <= bound:
            return i
    return len(LATENCY_BUCKETS)


def _finite(value: Any) -> TypeGuard[float]:
    kind = type(value)
    if kind is float:
        return bool(value - value == 0.0)  # False for NaN and the infinities
    return kind is int or (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    )


def _number(value: Any) -> float:
    """A count or an amount as a float; anything else (missing, text, NaN, negative) adds 0."""
    kind = type(value)
    if kind is float:
        return value if value > 0.0 and value - value == 0.0 else 0.0
    if kind is int:
        return float(value) if value > 0 else 0.0
    return float(value) if _finite(value) and value > 0 else 0.0
