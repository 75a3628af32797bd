"""Injected incidents: where and when they happen, the activity they add, and their ground truth.

Every kind of the shared universe is injected at seeded times in working hours of the people
concerned, spread over the weekdays and spaced out, so that a backtest can tell which alert
belongs to which incident. In a range of four days or more, the kinds that only an online
detector's learned baseline can reveal (`NEEDS_BASELINE`) wait for two days of history.
Incidents that change ordinary traffic (latency, token drift, a silent team, an error burst) are
set as `Effects` windows before the traffic is drawn; the others add sessions of their own. Each
yields one ground-truth record, and each record is really in the data within its window: a range
without working time (a weekend, a late start) gets after-hours incidents, several people of the
group are at work during a slowdown or a drift, and only a team silence, which means nothing
outside working hours, is left out of a range that has none.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from replay.simulator.commands import (
    credential_command,
    dangerous_command,
    ordinary_command,
    test_command,
)
from replay.simulator.placement import HISTORY_DAYS, HOUR, MINUTE, Calendar, Window, after_history
from replay.simulator.population import Repo, Team, User
from replay.simulator.traffic import SessionBuilder, World
from replay.simulator.universe import (
    CACHE_HIT_COLLAPSE,
    COST_SPIKE,
    CREDENTIAL_IN_COMMAND,
    DANGEROUS_COMMAND,
    DISALLOWED_REGION,
    DISALLOWED_REGION_USE,
    ERROR_BURST,
    EXTENDED_KINDS,
    FORBIDDEN_MODEL,
    FORBIDDEN_MODEL_USE,
    INCIDENT_KINDS,
    LATENCY_DEGRADATION,
    MANY_REPOS,
    OPUS,
    PR_WITHOUT_PASSING_ASSERTIONS,
    RUNAWAY_SESSIONS,
    SONNET,
    TEAM_ERROR_BURST,
    TEAM_SILENT,
    TOKEN_BURN_DRIFT,
)
from replay.simulator.workday import DAY_S, US, ship
from replay.timefmt import iso

SEVERITY = {
    COST_SPIKE: "high",
    TOKEN_BURN_DRIFT: "medium",
    LATENCY_DEGRADATION: "high",
    ERROR_BURST: "medium",
    FORBIDDEN_MODEL_USE: "high",
    DISALLOWED_REGION_USE: "high",
    DANGEROUS_COMMAND: "critical",
    CREDENTIAL_IN_COMMAND: "critical",
    PR_WITHOUT_PASSING_ASSERTIONS: "medium",
    MANY_REPOS: "medium",
    TEAM_SILENT: "high",
    TEAM_ERROR_BURST: "critical",
    CACHE_HIT_COLLAPSE: "medium",
    RUNAWAY_SESSIONS: "critical",
}
KIND_SETS = {"classic": INCIDENT_KINDS, "all": INCIDENT_KINDS + EXTENDED_KINDS}
# Kinds whose evidence only the wrapper's spans carry (a region, a pull request, a repository):
# an organisation exporting only Claude Code's events cannot show them, so none is injected
# there, and in a mixed one they happen to people whose setup exports spans.
NEEDS_SPANS = frozenset(
    (DISALLOWED_REGION_USE, PR_WITHOUT_PASSING_ASSERTIONS, MANY_REPOS, LATENCY_DEGRADATION)
)
# The extended kinds: a team's error burst (share of calls failing, minutes), a team's prompt
# cache collapsing (hit probability, hours), a runaway agent opening sessions (per minute).
TEAM_BURST_SHARE, TEAM_BURST_MINUTES = 0.4, 20
COLLAPSED_CACHE_P, COLLAPSE_HOURS = 0.03, 2
LOOP_SESSIONS_PER_MINUTE, LOOP_MINUTES = 40, 20
TEAM_WORKERS = 6
# Incidents per weekday of the simulated range (at least one of each kind).
RATE_PER_WEEKDAY = {
    FORBIDDEN_MODEL_USE: 0.6,
    DISALLOWED_REGION_USE: 0.6,
    DANGEROUS_COMMAND: 0.6,
    CREDENTIAL_IN_COMMAND: 0.6,
    PR_WITHOUT_PASSING_ASSERTIONS: 0.6,
    COST_SPIKE: 0.4,
    ERROR_BURST: 0.4,
    MANY_REPOS: 0.4,
    LATENCY_DEGRADATION: 0.2,
    TOKEN_BURN_DRIFT: 0.2,
    TEAM_SILENT: 0.2,
}
# How long a user-level incident occupies its user's timeline (for spacing them out).
EXPECTED_LENGTH = {COST_SPIKE: 65 * MINUTE, ERROR_BURST: 42 * MINUTE, MANY_REPOS: 30 * MINUTE}
# How long the few calls of someone at work during a drift or a slowdown may take.
AT_WORK = 30 * MINUTE
# Parallel loops of a runaway agent (each iterates every 10 s or so).
RUNAWAY_LANES = 5
# Incidents that only an online detector's learned baseline can tell from ordinary traffic.
NEEDS_BASELINE = frozenset(
    (COST_SPIKE, TOKEN_BURN_DRIFT, LATENCY_DEGRADATION, ERROR_BURST, TEAM_SILENT)
)
# A drift spans the team's working day (local start hours), ending about when people leave.
DRIFT_START_H = (8.75, 9.5)
DRIFT_LENGTH = 8 * HOUR
# Members of a drifting team sure to be at work in the second half of the drift.
DRIFT_WORKERS = 3


@dataclass(frozen=True)
class InjectedIncident:
    """One line of the truth file: what was injected, when, and for which group."""

    kind: str
    start: float
    end: float
    group: dict[str, str]
    severity: str
    description: str
    details: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "start": iso(self.start),
            "end": iso(self.end),
            "group": self.group,
            "severity": self.severity,
            "description": self.description,
            "details": self.details,
        }


def _truth(
    kind: str, start: int, end: int, group: dict[str, str], text: str, **details: object
) -> InjectedIncident:
    # Whole milliseconds (as RFC 3339 in the truth file shows them), widened to cover the activity.
    start_ms, end_ms = start // 1000, -(-end // 1000)
    return InjectedIncident(
        kind, start_ms / 1000, end_ms / 1000, group, SEVERITY[kind], text, details
    )


def inject_incidents(
    world: World, seed: int, lo: int, hi: int, kind_set: str = "classic"
) -> list[InjectedIncident]:
    """Plan every incident of the universe in [lo, hi) µs, set its effects, add its activity.

    Effects come first (every session built afterwards sees all of them), activity last; each
    step sees the windows the earlier ones took, so their order is the order of the draws.
    `kind_set="all"` adds the extended kinds, planned from a generator of their own so that the
    classic ones stay where they were.
    """
    run = _Injection.begin(world, seed, lo, hi)
    teams = run.draw_teams()
    drifts = run.token_drifts(teams.drifting)
    run.team_silences(teams.silent, teams.fallback)
    run.latency_degradations([(a, b) for _, a, b in drifts])
    run.drift_workers(drifts)
    excluded = {t.name for t in teams.drifting} | set(world.effects.silences)
    planned, busy = run.place_user_incidents(excluded)
    if kind_set == "all":
        run.extended_kinds(excluded, planned, busy)
    run.add_activity()
    run.add_user_incidents(planned)
    return sorted(run.truths, key=lambda t: (t.start, t.kind, sorted(t.group.items())))


class _Teams(NamedTuple):
    """The teams drawn for the team-wide incidents, and those a silence may fall back to."""

    drifting: list[Team]
    silent: list[Team]
    fallback: list[Team]


_Planned = tuple[str, User, int]  # (kind, who, when) of an incident with its own activity


@dataclass
class _Injection:
    """One run of `inject_incidents`: the draws, placements and truths its steps share."""

    world: World
    seed: int
    rng: random.Random
    lo: int
    hi: int
    history_end: int | None
    plan: _Placement
    counts: dict[str, int]
    truths: list[InjectedIncident] = field(default_factory=list)
    activity: list[tuple[str, User, int, int]] = field(default_factory=list)  # why, who, when, salt

    @classmethod
    def begin(cls, world: World, seed: int, lo: int, hi: int) -> _Injection:
        rng = random.Random(f"{seed}:incidents")
        calendar = Calendar(rng, lo, hi)
        history_end = after_history(lo, hi)
        learned = calendar if history_end is None else Calendar(rng, history_end, hi)
        two_days = lo + HISTORY_DAYS * DAY_S * US
        later = Calendar(rng, two_days, hi) if history_end not in (None, two_days) else None
        plan = _Placement(calendar, learned, later)
        return cls(world, seed, rng, lo, hi, history_end, plan, _counts(world, calendar))

    @property
    def days(self) -> list[int]:
        """The weekdays of the learned part of the range, where baseline incidents go."""
        return self.plan.learned.weekdays

    def draw_teams(self) -> _Teams:
        """Drifting and silent teams among the bigger half, a silent one not drifting if possible."""
        org = self.world.org
        by_size = sorted(org.teams, key=lambda t: (-len(org.members(t)), t.name))
        big = by_size[: max(1, (len(by_size) + 1) // 2)]
        drifting = [self.rng.choice(big) for _ in range(self.counts[TOKEN_BURN_DRIFT])]
        quiet_pool = [t for t in big if t not in drifting] or big
        silent = [self.rng.choice(quiet_pool) for _ in range(self.counts[TEAM_SILENT])]
        return _Teams(drifting, silent, [*quiet_pool, *big, *by_size])

    def token_drifts(self, teams: list[Team]) -> list[tuple[Team, int, int]]:
        drifts: list[tuple[Team, int, int]] = []
        for i, team in enumerate(teams):
            day = self.days[(i * 2) % len(self.days)]
            truth, window = _token_drift(self.world, self.plan, team, day)
            self.truths.append(truth)
            drifts.append((team, *window))
        return drifts

    def team_silences(self, teams: list[Team], fallback: list[Team]) -> None:
        for i, team in enumerate(teams):
            day = self.days[(i * 2 + 1) % len(self.days)]
            for candidate in dict.fromkeys(
                [team, *fallback]
            ):  # the drawn team, else one that works
                silence = _team_silence(self.world, self.plan, candidate, day)
                if silence is not None:
                    self.truths.append(silence)
                    self.plan.taken.append((_us(silence.start), _us(silence.end)))
                    break

    def latency_degradations(self, drift_windows: list[Window]) -> None:
        for i in range(self.counts[LATENCY_DEGRADATION]):
            day = self.days[(i * 2 + 2) % len(self.days)]
            # Away from drifts too: bloating prompts slow their team's calls down a little.
            truth, someone, start = _latency_degradation(self.world, self.plan, day, drift_windows)
            self.truths.append(truth)
            self.plan.taken.append((_us(truth.start), _us(truth.end)))
            self.activity.append(("latency", someone, start, i))

    def drift_workers(self, drifts: list[tuple[Team, int, int]]) -> None:
        """Several members of each drifting team work in the second half of its drift."""
        for i, (team, drift_lo, drift_hi) in enumerate(drifts):
            members = self.world.org.members(team)
            half = (drift_lo + (drift_hi - drift_lo) // 2, drift_hi)
            for j, member in enumerate(self.rng.sample(members, min(DRIFT_WORKERS, len(members)))):
                at = self.plan.calendar.pick(
                    member.utc_offset_s,
                    AT_WORK,
                    (9.5, 16.5),
                    avoid=self.world.effects.silences.get(team.name, []),
                    within=half,
                )
                if at is not None:
                    self.activity.append(("drift", member, at, i * DRIFT_WORKERS + j))

    def place_user_incidents(self, excluded: set[str]) -> tuple[list[_Planned], list[Window]]:
        """When and to whom each incident with activity of its own happens (and its busy time)."""
        candidates, kinds = self._draw_user_incidents(excluded)
        planned: list[_Planned] = []
        busy: list[Window] = []
        for i, kind in enumerate(kinds):
            user = _able_user(kind, candidates, i)
            length = EXPECTED_LENGTH.get(kind, 15 * MINUTE)
            start = self._user_slot(kind, user, i, length, busy)
            if start is None:  # no room left anywhere in range: do not claim what did not happen
                continue
            busy.append((start, start + length))
            planned.append((kind, user, start))
            if kind == ERROR_BURST:
                self.world.effects.error_bursts.setdefault(user.email, []).append(
                    (start, start + length - 2 * MINUTE, 0.5)
                )
        return planned, busy

    def _draw_user_incidents(self, excluded: set[str]) -> tuple[list[User], list[str]]:
        """People outside the excluded teams, shuffled, and the kinds to give them."""
        org = self.world.org
        candidates = [u for u in org.users if u.team.name not in excluded] or list(org.users)
        self.rng.shuffle(candidates)
        kinds = [k for k in USER_INCIDENTS for _ in range(self.counts[k])]
        self.rng.shuffle(kinds)
        # Those that need history first, while the days after it still have room for them.
        kinds.sort(key=lambda k: k not in NEEDS_BASELINE)
        return candidates, kinds

    def _user_slot(
        self, kind: str, user: User, i: int, length: int, busy: list[Window]
    ) -> int | None:
        hours = (9.5, 17.0 - length / HOUR)
        # Not while the user's own team is silenced: the incident would vanish with it.
        silenced = self.world.effects.silences.get(user.team.name, [])
        if kind in NEEDS_BASELINE:
            day = self.days[i % len(self.days)]
            return self.plan.pick(
                user.utc_offset_s, length, hours, prefer_day=day, busy=busy,
                apart=self.plan.taken, avoid=silenced,
            )  # fmt: skip
        calendar = self.plan.calendar
        day = calendar.weekdays[i % len(calendar.weekdays)]
        return calendar.pick(
            user.utc_offset_s, length, hours, prefer_day=day, busy=busy, avoid=silenced
        )

    def extended_kinds(
        self, excluded: set[str], planned: list[_Planned], busy: list[Window]
    ) -> None:
        taken = [*self.plan.taken, *((_us(t.start), _us(t.end)) for t in self.truths), *busy]
        teams_out = excluded | {u.team.name for _, u, _ in planned}
        users_out = {u.email for _, u, _ in planned}
        self.truths += _inject_extended(
            self.world, self.seed, self.lo, self.hi, self.history_end, taken, teams_out, users_out
        )

    def add_activity(self) -> None:
        """The calls of people at work during a slowdown or a drift."""
        for why, user, start, salt in self.activity:
            session_rng = random.Random(f"{self.seed}:{why}:{salt}:{user.index}:{start}")
            model = SONNET if why == "latency" else None
            _invocations(self.world, session_rng, user, start, model=model)

    def add_user_incidents(self, planned: list[_Planned]) -> None:
        for kind, user, start in planned:
            session_rng = random.Random(f"{self.seed}:incident:{kind}:{user.index}:{start}")
            self.truths.append(USER_INCIDENTS[kind](self.world, session_rng, user, start))


def _counts(world: World, calendar: Calendar) -> dict[str, int]:
    """Incidents of each kind: by weekdays in range, none needing spans where nobody sends them."""
    n_weekdays = len(calendar.weekdays)
    counts = {kind: max(1, round(rate * n_weekdays)) for kind, rate in RATE_PER_WEEKDAY.items()}
    if not any(u.habits.spans for u in world.org.users):
        counts.update(dict.fromkeys(NEEDS_SPANS, 0))
    return counts


def _able_user(kind: str, candidates: list[User], i: int) -> User:
    """The i-th candidate, or the next one whose setup sends spans if the kind needs them."""
    user = candidates[i % len(candidates)]
    if kind in NEEDS_SPANS and not user.habits.spans:
        rotated = candidates[i % len(candidates) :] + candidates[: i % len(candidates)]
        user = next((u for u in rotated if u.habits.spans), user)
    return user


def _us(seconds: float) -> int:
    return round(seconds * US)


@dataclass
class _Placement:
    """Placement of the incidents that are seen only against a learned baseline.

    In a long range they go into the weekday working hours after two days of history (the
    `learned` calendar), apart from each other (`taken`) where there is room for that; else
    anywhere at least two days into the range (`later`: the learned part may start later, after
    two whole weekdays, and be crowded by a team's silence); when neither has room at all,
    wherever the whole range allows, as in a short range.
    """

    calendar: Calendar
    learned: Calendar
    later: Calendar | None = None
    taken: list[tuple[int, int]] = field(default_factory=list)

    def pick(
        self,
        offset_s: int,
        length: int,
        hours: tuple[float, float],
        *,
        prefer_day: int | None = None,
        busy: Sequence[Window] = (),
        apart: Sequence[Window] = (),
        avoid: Sequence[Window] = (),
        working_only: bool = False,
    ) -> int | None:
        """Like `Calendar.pick`; `apart` are windows to keep away from only if there is room."""
        spaced = [*busy, *apart]
        if self.learned is not self.calendar:
            for learned in (c for c in (self.learned, self.later) if c is not None):
                for keep_clear in (spaced, busy) if apart else (busy,):
                    found = learned.pick(
                        offset_s,
                        length,
                        hours,
                        prefer_day=prefer_day,
                        busy=keep_clear,
                        avoid=avoid,
                        working_only=True,
                    )
                    if found is not None:
                        return found
        return self.calendar.pick(
            offset_s,
            length,
            hours,
            prefer_day=prefer_day,
            busy=spaced,
            avoid=avoid,
            working_only=working_only,
        )


# -- incidents that change ordinary traffic -------------------------------------------------------


def _token_drift(
    world: World, plan: _Placement, team: Team, day: int
) -> tuple[InjectedIncident, tuple[int, int]]:
    """Over one working day of the team, its tokens per invocation creep up to three times."""
    length = DRIFT_LENGTH
    start = plan.pick(team.utc_offset_s, length, DRIFT_START_H, prefer_day=day)
    start = plan.calendar.lo if start is None else start  # a range is a day at least: never None
    factor = 3.0
    world.effects.token_ramps.setdefault(team.name, []).append((start, start + length, factor))
    text = f"tokens per invocation of team {team.name} creep up to {factor:g}x over the day"
    group = {"team": team.name}
    truth = _truth(TOKEN_BURN_DRIFT, start, start + length, group, text, factor=factor)
    return truth, (start, start + length)


def _team_silence(world: World, plan: _Placement, team: Team, day: int) -> InjectedIncident | None:
    """Three hours of the team's weekday working time, or None if the range holds none."""
    length = 3 * HOUR
    earlier = world.effects.silences.get(team.name, [])
    start = plan.pick(
        team.utc_offset_s,
        length,
        (10.0, 13.0),
        prefer_day=day,
        busy=earlier,
        apart=plan.taken,
        avoid=earlier,
        working_only=True,
    )
    if start is None:
        return None
    world.effects.silences.setdefault(team.name, []).append((start, start + length))
    members = len(world.org.members(team))
    text = f"no telemetry from team {team.name} ({members} people) for 3 hours of working time"
    return _truth(TEAM_SILENT, start, start + length, {"team": team.name}, text, members=members)


def _latency_degradation(
    world: World, plan: _Placement, day: int, drifts: Sequence[Window]
) -> tuple[InjectedIncident, User, int]:
    """Returns the truth, someone who calls the slow model meanwhile, and when they start."""
    calendar = plan.calendar
    users = world.org.users
    someone = calendar.rng.choice(users)
    region, model = someone.region, SONNET
    factor = round(calendar.rng.uniform(3.5, 5.0), 2)
    length = 2 * HOUR
    silenced = world.effects.silences.get(someone.team.name, [])
    start = plan.pick(
        someone.utc_offset_s,
        length,
        (10.0, 14.0),
        prefer_day=day,
        apart=[*plan.taken, *drifts],
        avoid=silenced,
    )
    start = calendar.lo if start is None else start  # three hours of silence leave room
    world.effects.latency.append((model, region, start, start + length, factor))
    at = calendar.pick(
        someone.utc_offset_s, AT_WORK, (9.5, 16.5), avoid=silenced, within=(start, start + length)
    )
    text = f"{model} in {region} answers {factor:g}x slower for 2 hours"
    group = {"model": model, "region": region}
    truth = _truth(LATENCY_DEGRADATION, start, start + length, group, text, factor=factor)
    return truth, someone, start if at is None else at


# -- incidents that add activity of their own ------------------------------------------------------


def _gap(rng: random.Random, low: float = 0.2, high: float = 2.0) -> int:
    return int(rng.uniform(low, high) * US)


def _cost_spike(world: World, rng: random.Random, user: User, t0: int) -> InjectedIncident:
    """A runaway agent: parallel loops of big-context Opus calls re-running failing tests.

    A loop iterates every ten seconds or so, each lane alone several times a busy person's pace:
    together well over ten times the user's usual invocations (and cost) per hour, for an hour.
    """
    b = SessionBuilder(world, rng, user, user.repos[0], "refactor", t0)
    b.turn(t0)
    stop, last, n, cost = t0 + HOUR, t0, 0, 0.0
    for lane in range(RUNAWAY_LANES):
        t = t0 + lane * rng.randint(2, 9) * US
        while t < stop:
            result = b.invoke(
                t,
                "implement",
                model=OPUS,
                tokens_scale=2.0,
                tokens_out_scale=0.25,
                cache_p=0.9,
                error_p=0.0,
            )
            n, cost, t = n + 1, cost + result.cost, result.end
            if rng.random() < 0.3:
                command = test_command(rng, b.repo.language)
                t = b.shell(t + _gap(rng), "test", command, exit_code=1, seconds=rng.uniform(2, 6))
            last = max(last, t)
            t += _gap(rng, 0.2, 1.5)
    text = f"runaway agent: {n} Opus invocations costing ${cost:,.0f} in one hour"
    group = {"user": user.email}
    return _truth(COST_SPIKE, t0, last, group, text, invocations=n, cost_usd=round(cost, 2))


def _error_burst(world: World, rng: random.Random, user: User, t0: int) -> InjectedIncident:
    """Half of one user's invocations fail (throttling, timeouts) for about half an hour."""
    (window_lo, window_hi, p) = world.effects.error_bursts[user.email][-1]
    b = SessionBuilder(world, rng, user, rng.choice(user.repos), "bugfix", t0)
    t, n, errors = t0, 0, 0
    while t < window_hi:
        if n % 8 == 0:
            b.turn(t)
        result = b.invoke(t, "implement", error_p=p)
        n, errors, t = n + 1, errors + bool(result.error), result.end + _gap(rng, 0.5, 4.0)
    text = f"{errors} of {n} invocations by {user.email} failed within {(t - t0) // MINUTE} minutes"
    group = {"user": user.email}
    return _truth(ERROR_BURST, window_lo, t, group, text, invocations=n, errors=errors)


def _short_session(
    world: World, rng: random.Random, user: User, t0: int, workflow: str = "feature"
) -> tuple[SessionBuilder, int]:
    """A session's usual opening (plan, look around) before the incident's own step."""
    b = SessionBuilder(world, rng, user, rng.choice(user.repos), workflow, t0)
    b.turn(t0)
    t = b.invoke(t0, "plan", error_p=0.0).end
    command = ordinary_command(rng, b.repo.language, team=user.team.name)
    t = b.shell(t + _gap(rng), "implement", command)
    return b, b.invoke(t + _gap(rng), "implement", error_p=0.0).end + _gap(rng)


def _dangerous(world: World, rng: random.Random, user: User, t0: int) -> InjectedIncident:
    b, t = _short_session(world, rng, user, t0)
    category, command = dangerous_command(rng, team=user.team.name)
    end = b.shell(
        t, "implement", command, exit_code=rng.choice((0, 1)), seconds=rng.uniform(0.3, 6)
    )
    b.invoke(end + _gap(rng), "implement", error_p=0.0)
    text = f"dangerous shell command ({category}) run by {user.email}"
    group = {"user": user.email}
    return _truth(DANGEROUS_COMMAND, t, end, group, text, command=command, category=category)


def _credential(world: World, rng: random.Random, user: User, t0: int) -> InjectedIncident:
    b, t = _short_session(world, rng, user, t0)
    kind, command = credential_command(rng, b.repo.name, user.team.name)
    end = b.shell(t, "implement", command, seconds=rng.uniform(0.5, 4))
    b.invoke(end + _gap(rng), "implement", error_p=0.0)
    text = f"{kind.replace('_', ' ')} in a shell command run by {user.email}"
    group = {"user": user.email}
    return _truth(CREDENTIAL_IN_COMMAND, t, end, group, text, credential_type=kind, command=command)


def _invocations(
    world: World,
    rng: random.Random,
    user: User,
    t0: int,
    *,
    model: str | None = None,
    region: str | None = None,
) -> tuple[int, int, int]:
    """3 to 6 invocations of one session, maybe with a model or region override.

    Returns (n, first start, last end).
    """
    b = SessionBuilder(world, rng, user, rng.choice(user.repos), "feature", t0)
    b.turn(t0)
    t, n = t0, rng.randint(3, 6)
    for i in range(n):
        t = b.invoke(
            t, "plan" if i == 0 else "implement", error_p=0.0, model=model, region=region
        ).end
        if rng.random() < 0.5:
            command = ordinary_command(rng, b.repo.language, team=user.team.name)
            t = b.shell(t + _gap(rng), "implement", command)
        t += _gap(rng)
    return n, t0, t


def _forbidden_model(world: World, rng: random.Random, user: User, t0: int) -> InjectedIncident:
    n, start, end = _invocations(world, rng, user, t0, model=FORBIDDEN_MODEL)
    text = f"{user.email} invoked {FORBIDDEN_MODEL}, which is not approved ({n} calls)"
    group = {"user": user.email}
    return _truth(
        FORBIDDEN_MODEL_USE, start, end, group, text, model=FORBIDDEN_MODEL, invocations=n
    )


def _disallowed_region(world: World, rng: random.Random, user: User, t0: int) -> InjectedIncident:
    n, start, end = _invocations(world, rng, user, t0, region=DISALLOWED_REGION)
    text = f"{user.email} invoked Bedrock in {DISALLOWED_REGION} ({n} calls)"
    group = {"user": user.email}
    return _truth(
        DISALLOWED_REGION_USE, start, end, group, text, region=DISALLOWED_REGION, invocations=n
    )


def _pr_without_assertions(
    world: World, rng: random.Random, user: User, t0: int
) -> InjectedIncident:
    """A pull request opened while the session's own checks fail: one to three failing
    assertions (after a passing one half the time: a change that broke a test), none passing
    since. A pull request with no check at all is ordinary work in many organisations."""
    b, t = _short_session(world, rng, user, t0)
    suite = rng.choice(("auth", "cart", "parser"))
    if rng.random() < 0.5:
        t = b.assertion(t, "test", f"unit: {suite}", True, rng.uniform(2, 15)) + _gap(rng)
    for _ in range(rng.randint(1, 3)):
        t = b.assertion(t, "test", f"unit: {suite}", False, rng.uniform(2, 15)) + _gap(rng)
    branch = f"feature/{rng.choice(('quick-fix', 'hotpatch', 'skip-ci'))}"
    known = {"branch": branch, "base": b.repo.base_branch, "team": user.team.name}
    pr_end = ship(b, t, branch, known)
    text = f"{user.email} opened a pull request while the session's checks failed"
    group = {"user": user.email}
    return _truth(PR_WITHOUT_PASSING_ASSERTIONS, t, pr_end, group, text, assertions="failing")


def _many_repos(world: World, rng: random.Random, user: User, t0: int) -> InjectedIncident:
    """A scripted dependency bump: one short session in each of 16 to 20 repositories."""
    wanted = rng.randint(16, 20)
    pool = [r for r in world.org.all_repos if r not in user.repos]
    for i in range(wanted - len(pool)):  # a small organisation: old repositories nobody owns
        pool.append(Repo(f"acme/legacy-{i:02d}-service", "typescript", "main"))
    repos = rng.sample(pool, wanted)
    t, done = t0, 0
    for repo in repos:
        if done >= 15 and t > t0 + 27 * MINUTE:
            break
        b = SessionBuilder(world, rng, user, repo, "migration", t)
        b.turn(t)
        t = b.invoke(t, "implement", tokens_scale=0.4, error_p=0.0).end
        t = b.shell(t + _gap(rng), "implement", "git checkout -b chore/bump-lodash", seconds=0.2)
        t = b.shell(
            t + _gap(rng), "implement", "npm install lodash@4.17.21", seconds=rng.uniform(3, 9)
        )
        t = b.shell(t + _gap(rng), "implement", 'git commit -am "chore: bump lodash"', seconds=0.3)
        t += _gap(rng, 2.0, 10.0)
        done += 1
    text = f"{user.email} touched {done} repositories in {(t - t0) // MINUTE} minutes"
    return _truth(MANY_REPOS, t0, t, {"user": user.email}, text, repos=done)


USER_INCIDENTS = {
    COST_SPIKE: _cost_spike,
    ERROR_BURST: _error_burst,
    FORBIDDEN_MODEL_USE: _forbidden_model,
    DISALLOWED_REGION_USE: _disallowed_region,
    DANGEROUS_COMMAND: _dangerous,
    CREDENTIAL_IN_COMMAND: _credential,
    PR_WITHOUT_PASSING_ASSERTIONS: _pr_without_assertions,
    MANY_REPOS: _many_repos,
}


# -- the extended kinds ---------------------------------------------------------------------------


def _inject_extended(
    world: World,
    seed: int,
    lo: int,
    hi: int,
    history_end: int | None,
    taken: list[Window],
    teams_out: set[str],
    users_out: set[str],
) -> list[InjectedIncident]:
    """A team's error burst, a team's cache collapse and a runaway agent opening sessions,
    each once a week or so, after two days of history in a long range (all three are only
    anomalous against a baseline), clear of the classic incidents and of each other."""
    rng = random.Random(f"{seed}:incidents:extended")
    calendar = Calendar(rng, lo, hi)
    learned = calendar if history_end is None else Calendar(rng, history_end, hi)
    plan = _Placement(calendar, learned, taken=list(taken))
    org = world.org
    count = max(1, round(0.2 * len(calendar.weekdays)))
    teams = _extended_teams(world, teams_out)
    days = learned.weekdays
    truths: list[InjectedIncident] = []
    for i in range(count):
        team = teams[(2 * i) % len(teams)]
        found = _team_error_burst(world, rng, plan, team, days[i % len(days)], seed)
        if found is not None:
            truths.append(found)
        team = teams[(2 * i + 1) % len(teams)]
        found = _cache_collapse(world, rng, plan, team, days[(i + 2) % len(days)], seed)
        if found is not None:
            truths.append(found)
    people = [u for u in org.users if u.email not in users_out and u.team.name in
              {t.name for t in teams}] or list(org.users)  # fmt: skip
    for i in range(count):
        user = people[rng.randrange(len(people))]
        found = _runaway_sessions(world, rng, plan, user, days[(i + 1) % len(days)], seed)
        if found is not None:
            truths.append(found)
    return truths


def _extended_teams(world: World, teams_out: set[str]) -> list[Team]:
    """Biggest first: teams of three or more clear of the classic incidents, else any team not
    silenced, else any team."""
    org = world.org
    by_size = sorted(org.teams, key=lambda t: (-len(org.members(t)), t.name))
    teams = [t for t in by_size if t.name not in teams_out and len(org.members(t)) >= 3]
    return teams or [t for t in by_size if t.name not in world.effects.silences] or by_size


def _team_workers(
    world: World, rng: random.Random, team: Team, window: Window, seed: int, why: str
) -> int:
    """Several members of `team` busy all through `window`: an agent session each, calling
    every half minute or so. Returns the calls made."""
    members = world.org.members(team)
    calls = 0
    for j, member in enumerate(rng.sample(members, min(TEAM_WORKERS, len(members)))):
        session_rng = random.Random(f"{seed}:{why}:{j}:{member.index}:{window[0]}")
        t = window[0] + int(session_rng.uniform(0, 90) * US)
        b = SessionBuilder(
            world, session_rng, member, session_rng.choice(member.repos), "bugfix", t
        )
        n = 0
        while t < window[1]:
            if n % 6 == 0:
                b.turn(t)
            t = b.invoke(t, "implement").end + int(session_rng.uniform(10, 45) * US)
            n += 1
        calls += n
    return calls


def _team_error_burst(
    world: World, rng: random.Random, plan: _Placement, team: Team, day: int, seed: int
) -> InjectedIncident | None:
    """About 40% of a team's calls fail (throttling, timeouts) for 20 minutes."""
    length = TEAM_BURST_MINUTES * MINUTE
    silenced = world.effects.silences.get(team.name, [])
    start = plan.pick(
        team.utc_offset_s, length, (10.0, 15.5), prefer_day=day, apart=plan.taken,
        avoid=silenced, working_only=True,
    )  # fmt: skip
    if start is None:
        return None
    window = (start, start + length)
    plan.taken.append(window)
    world.effects.team_error_bursts.setdefault(team.name, []).append((*window, TEAM_BURST_SHARE))
    calls = _team_workers(world, rng, team, window, seed, "team-burst")
    text = (
        f"{TEAM_BURST_SHARE:.0%} of team {team.name}'s calls fail for {TEAM_BURST_MINUTES} minutes"
    )
    return _truth(
        TEAM_ERROR_BURST, *window, {"team": team.name}, text,
        error_share=TEAM_BURST_SHARE, busy_members_calls=calls,
    )  # fmt: skip


def _cache_collapse(
    world: World, rng: random.Random, plan: _Placement, team: Team, day: int, seed: int
) -> InjectedIncident | None:
    """A team's prompt cache stops working (a changed system prompt, a broken cache key):
    hardly any call hits it for two hours, so input costs rise."""
    length = COLLAPSE_HOURS * HOUR
    silenced = world.effects.silences.get(team.name, [])
    start = plan.pick(
        team.utc_offset_s, length, (9.75, 14.5), prefer_day=day, apart=plan.taken,
        avoid=silenced, working_only=True,
    )  # fmt: skip
    if start is None:
        return None
    window = (start, start + length)
    plan.taken.append(window)
    world.effects.cache_collapses.setdefault(team.name, []).append((*window, COLLAPSED_CACHE_P))
    calls = _team_workers(world, rng, team, window, seed, "cache-collapse")
    text = f"team {team.name}'s prompt-cache hits collapse to {COLLAPSED_CACHE_P:.0%} for 2 hours"
    return _truth(
        CACHE_HIT_COLLAPSE, *window, {"team": team.name}, text,
        cache_hit_p=COLLAPSED_CACHE_P, busy_members_calls=calls,
    )  # fmt: skip


def _runaway_sessions(
    world: World, rng: random.Random, plan: _Placement, user: User, day: int, seed: int
) -> InjectedIncident | None:
    """A runaway agent: a script restarting the assistant in a loop, about 40 new sessions a
    minute for 20 minutes, each a prompt and a call or two."""
    length = LOOP_MINUTES * MINUTE
    silenced = world.effects.silences.get(user.team.name, [])
    start = plan.pick(
        user.utc_offset_s, length, (9.5, 16.5), prefer_day=day, apart=plan.taken,
        avoid=silenced, working_only=True,
    )  # fmt: skip
    if start is None:
        return None
    plan.taken.append((start, start + length))
    session_rng = random.Random(f"{seed}:runaway-sessions:{user.index}:{start}")
    gap = 60.0 / LOOP_SESSIONS_PER_MINUTE
    t, sessions, calls, last = start, 0, 0, start
    repo = user.repos[0]
    while t < start + length:
        b = SessionBuilder(world, session_rng, user, repo, "refactor", t)
        b.turn(t)
        end = b.invoke(t, "implement", tokens_scale=0.5, error_p=0.0).end
        calls += 1
        if session_rng.random() < 0.3:
            end = b.invoke(end + _gap(session_rng), "implement", tokens_scale=0.5).end
            calls += 1
        sessions, last = sessions + 1, max(last, end)
        t += int(session_rng.uniform(0.5 * gap, 1.5 * gap) * US)
    text = (
        f"runaway agent: {sessions} sessions of {user.email} in {LOOP_MINUTES} minutes "
        f"({calls} calls)"
    )
    return _truth(
        RUNAWAY_SESSIONS, start, last, {"user": user.email}, text, sessions=sessions, calls=calls
    )
