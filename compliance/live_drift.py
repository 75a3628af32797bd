"""Compliance drift as it happens: each team's recent adherence against its own past.

The weekly report judges whole ISO weeks after the fact. Here the engine feeds every event's
team, session and the rule categories it hit, and at each UTC midnight (event time) every team
is judged on its trailing window (7 days by default, so whole weeks and a drop shows within a
day or two) against the days before it (28 by default): the sessions with no hit of a category
(or of any rule: `any`) out of all its sessions, per day, summed.

The test is the report's one-sided Fisher exact test, made honest for clustered data: sessions
of one person are not independent coin flips (a habit repeats), so the baseline's day-to-day
scatter is compared with what independent sessions would show, and the counts are divided by
that excess (the dispersion, at least 1) before the test, the Rao-Scott correction. A drop
opens an incident when it is significant (`alpha`) and large enough to matter (`min_drop`), and
resolves when it is no longer even weakly significant (`resolve_alpha`) or smaller than half
`min_drop`. While a team is drifting its days are left out of its baseline, so a lasting drop
does not become its own baseline within a week; once no clean baseline is left (the drop has
lasted longer than the baseline), the incident resolves: the new level is the team's normal.

No clock of its own and no dataflow: `update` takes observations (`time`, `group` = (team,),
`value` = session id, `values`: the categories of the event's rule hits, `""` for a
rule without one; none without a hit), `advance(watermark)` closes days and returns
signals; the engine turns them into incidents. Memory: the sessions of the days not yet
closed, and per team and closed day a few counts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from compliance.drift import fisher_lower_tail
from compliance.metrics import ANY


class SessionHits(Protocol):
    """What the drift test reads of one event (the engine hands it a detector observation)."""

    @property
    def time(self) -> float: ...
    @property
    def group(self) -> tuple[str, ...]: ...  # (team,)
    @property
    def value(self) -> float | str | None: ...  # the session
    @property
    def values(self) -> tuple[float | str | None, ...] | None: ...  # categories hit


DAY = 86400.0
DETECTOR_ID = "compliance-drift"


@dataclass(frozen=True)
class LiveDriftParams:
    """window_days: the trailing window judged; baseline_days: the days before it compared
    with; alpha: significance to open; resolve_alpha: the p-value above which it resolves;
    min_drop: the smallest fall of adherence (absolute share) that opens; min_sessions and
    min_baseline_sessions, min_baseline_days: support needed before any verdict;
    max_dispersion: the cap of the clustering correction."""

    window_days: int = 7
    baseline_days: int = 28
    alpha: float = 0.001
    resolve_alpha: float = 0.05
    min_drop: float = 0.03
    min_sessions: int = 20
    min_baseline_sessions: int = 100
    min_baseline_days: int = 7
    max_dispersion: float = 25.0
    severity: str = "medium"
    runbook: str | None = None


@dataclass(frozen=True)
class DriftSignal:
    """The verdict on one team and category at one midnight: the fields a detector's signal
    has, so the engine turns both into incidents the same way."""

    detector_id: str
    title: str
    severity: str
    time: float
    group: dict[str, str]
    score: float
    firing: bool
    labels: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    runbook: str | None = None
    noise_budget: int | None = None
    resolve_after: float | None = None


@dataclass
class DayCounts:
    """One team's closed day: sessions, sessions with a hit per category, and the categories
    that were drifting at its close (left out of later baselines)."""

    day: float
    sessions: int
    hits: dict[str, int]
    drifting: set[str] = field(default_factory=set)


def dispersion(days: Iterable[DayCounts], category: str, base_rate: float) -> float:
    """Pearson's chi-square of the days' clean counts over its degrees of freedom: 1 when the
    days scatter as independent sessions would, more when sessions cluster (by person, by
    repository)."""
    chi2, k = 0.0, 0
    var = base_rate * (1.0 - base_rate)
    for d in days:
        if d.sessions:
            clean = d.sessions - d.hits.get(category, 0)
            chi2 += (clean - d.sessions * base_rate) ** 2 / (d.sessions * var)
            k += 1
    return chi2 / (k - 1) if k > 1 else 1.0


class AdherenceDrift:
    """Per team: sessions and their hits by day; per team and category: drifting or not.

    >>> d = AdherenceDrift(LiveDriftParams(min_baseline_days=3, min_baseline_sessions=30))
    >>> class Obs:
    ...     def __init__(self, t, session, cats):
    ...         self.time, self.group, self.value = t, ("platform",), session
    ...         self.values = cats
    >>> for day in range(12):
    ...     for i in range(50):  # 50 sessions a day; 1 in 50 with a hit, then 1 in 3
    ...         bad = (i % 3 == 0) if day >= 10 else (i == 0)
    ...         _ = d.update(Obs(day * DAY + i * 60, f"s{day}-{i}", ("security",) if bad else ()))
    >>> signals = d.advance(12 * DAY)
    >>> [(s.group, s.firing, sorted(s.evidence["drifting"])) for s in signals]
    [({'team': 'platform'}, True, ['any', 'security'])]
    >>> signals[0].evidence["message"]
    'policy adherence 89% for team=platform over the last 7 days, baseline 98% (any rule)'
    """

    def __init__(self, params: LiveDriftParams | None = None) -> None:
        self.p = params or LiveDriftParams()
        # open days: (team, day) -> session -> categories hit so far
        self.open: dict[tuple[str, float], dict[str, set[str]]] = {}
        self.closed: dict[str, list[DayCounts]] = defaultdict(list)
        self.firing: dict[tuple[str, str], dict[str, Any]] = {}
        self.closed_until: float | None = None  # every day before this is closed
        self.last_day = -math.inf
        self.stats: dict[str, int] = {"observations": 0, "late": 0, "verdicts": 0}

    def update(self, obs: SessionHits) -> list[DriftSignal]:
        """One event: its team (`group[0]`), session (`value`) and categories hit."""
        self.stats["observations"] += 1
        day = (obs.time // DAY) * DAY
        if self.closed_until is not None and day < self.closed_until:
            self.stats["late"] += 1
            return []
        if self.closed_until is None:
            self.closed_until = day
        self.last_day = max(self.last_day, day)
        sessions = self.open.setdefault((obs.group[0], day), {})
        hit = sessions.setdefault(str(obs.value), set())  # the engine sends texts
        cats = obs.values
        if cats:  # a hit: of `any` rule, and of each category named (empty: none)
            hit.add(ANY)
            hit.update(str(c) for c in cats if c)
        return []

    def advance(self, watermark: float) -> list[DriftSignal]:
        """Close every day the watermark has passed (up to the last day with data) and judge
        every team at each of those midnights."""
        out: list[DriftSignal] = []
        while (
            self.closed_until is not None
            and self.closed_until + DAY <= watermark
            and self.closed_until <= self.last_day
        ):
            out.extend(self._close(self.closed_until))
            self.closed_until += DAY
        return out

    def _close(self, day: float) -> list[DriftSignal]:
        teams = {team for team, d in self.open if d == day} | set(self.closed)
        keep_from = day - (self.p.window_days + self.p.baseline_days - 1) * DAY
        out: list[DriftSignal] = []
        for team in sorted(teams):
            sessions = self.open.pop((team, day), {})
            hits: dict[str, int] = defaultdict(int)
            for cats in sessions.values():
                for c in cats:
                    hits[c] += 1
            days = self.closed[team]
            days.append(DayCounts(day, len(sessions), dict(hits)))
            while days and days[0].day < keep_from:
                days.pop(0)
            if not any(d.sessions for d in days):
                del self.closed[team]
                out.extend(self._resolve_all(team, day, "no sessions left in the window"))
                continue
            out.extend(self._judge(team, day, days))
        return out

    def _judge(self, team: str, day: float, days: list[DayCounts]) -> list[DriftSignal]:
        """Every category of the team judged; one signal for the team: firing while any
        category drifts (headed by `any` when it does, else by the most significant one)."""
        p = self.p
        window_from = day - (p.window_days - 1) * DAY
        window = [d for d in days if d.day >= window_from]
        before = [d for d in days if d.day < window_from]
        n = sum(d.sessions for d in window)
        categories = {c for d in days for c in d.hits} | {ANY}
        was = {c for t, c in self.firing if t == team}
        last: dict[str, Any] = {}
        for category in sorted(categories | was):
            base = [d for d in before if category not in d.drifting]
            verdict = self._test(category, window, base, n)
            if verdict is not None:  # judged, with the support a verdict needs
                self.stats["verdicts"] += 1
            key = (team, category)
            if key in self.firing:
                if verdict is None or not verdict["still"]:
                    last[category] = verdict
                    del self.firing[key]
                else:
                    self.firing[key] = verdict
            elif verdict is not None and verdict["opens"]:
                self.firing[key] = verdict
            if key in self.firing:
                days[-1].drifting.add(category)
        now = {c: v for (t, c), v in self.firing.items() if t == team}
        if now:
            head = ANY if ANY in now else min(now, key=lambda c: (now[c]["p_value"], c))
            return [self._signal(team, head, day, now, firing=True)]
        if was:
            verdict = last.get(ANY) if ANY in last else next(iter(last.values()), None)
            why = "recovered" if verdict is not None else "no clean baseline left"
            head = ANY if ANY in last else min(last)
            found = {head: verdict} if verdict is not None else {}
            return [self._signal(team, head, day, found, firing=False, why=why)]
        return []

    def _test(
        self, category: str, window: list[DayCounts], base: list[DayCounts], n: int
    ) -> dict[str, Any] | None:
        """The numbers of one comparison, or None without the support to judge."""
        p = self.p
        base_n = sum(d.sessions for d in base)
        base_days = sum(1 for d in base if d.sessions)
        if n < p.min_sessions or base_n < p.min_baseline_sessions:
            return None
        if base_days < p.min_baseline_days:
            return None
        clean = n - sum(d.hits.get(category, 0) for d in window)
        base_clean = base_n - sum(d.hits.get(category, 0) for d in base)
        share, base_share = clean / n, base_clean / base_n
        # Jeffreys-smoothed, so that a spotless baseline still has a variance
        rate = (base_clean + 0.5) / (base_n + 1.0)
        phi = min(p.max_dispersion, max(1.0, dispersion(base, category, rate)))
        pvalue = 1.0
        if share < base_share:
            pvalue = fisher_lower_tail(
                round(clean / phi),
                max(1, round(n / phi)),
                round(base_clean / phi),
                max(1, round(base_n / phi)),
            )
        drop = base_share - share
        return {
            "adherence": round(share, 4),
            "sessions": n,
            "baseline_adherence": round(base_share, 4),
            "baseline_sessions": base_n,
            "drop": round(drop, 4),
            "dispersion": round(phi, 3),
            "p_value": float(f"{pvalue:.3g}"),
            "opens": pvalue < p.alpha and drop >= p.min_drop,
            "still": pvalue < p.resolve_alpha and drop >= p.min_drop / 2,
        }

    def _signal(
        self,
        team: str,
        head: str,
        day: float,
        verdicts: Mapping[str, dict[str, Any] | None],
        *,
        firing: bool,
        why: str | None = None,
    ) -> DriftSignal:
        """The team's signal, its numbers those of the `head` category, with every drifting
        category's numbers beside them."""
        p = self.p
        verdict = verdicts.get(head)
        evidence = self._evidence(team, head, verdict)
        if firing:
            evidence["drifting"] = {
                c: {k: v[k] for k in ("adherence", "baseline_adherence", "p_value")}
                for c, v in sorted(verdicts.items())
                if v is not None
            }
        if why is not None:
            evidence["resolved_because"] = why
        score = 0.0
        if verdict is not None and firing:
            score = min(1.0, max(0.5, 1.0 - verdict["p_value"] / p.alpha / 2.0))
        return DriftSignal(
            detector_id=DETECTOR_ID,
            title=f"Policy adherence down for team {team}",
            severity=p.severity,
            time=day + DAY,
            group={"team": team},
            score=score,
            firing=firing,
            labels={"category": "compliance"},
            evidence=evidence,
            runbook=p.runbook,
            resolve_after=3 * DAY,
        )

    def _evidence(self, team: str, head: str, verdict: dict[str, Any] | None) -> dict[str, Any]:
        """The windows compared and, with a verdict, the `head` category's numbers and a
        sentence that says them."""
        p = self.p
        evidence: dict[str, Any] = {"window_days": p.window_days, "baseline_days": p.baseline_days}
        if verdict is None:
            return evidence
        what = "any rule" if head == ANY else f"{head} rules"
        evidence["category"] = head
        evidence.update({k: v for k, v in verdict.items() if k not in ("opens", "still")})
        evidence["message"] = (
            f"policy adherence {verdict['adherence']:.0%} for team={team} over the last "
            f"{p.window_days} days, baseline {verdict['baseline_adherence']:.0%} ({what})"
        )
        return evidence

    def _resolve_all(self, team: str, day: float, why: str) -> list[DriftSignal]:
        found = sorted(c for t, c in self.firing if t == team)
        for category in found:
            del self.firing[(team, category)]
        if not found:
            return []
        return [self._signal(team, found[0], day, {}, firing=False, why=why)]
