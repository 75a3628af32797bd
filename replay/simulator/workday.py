"""Ordinary work: when people use the assistant, and what one of their sessions looks like.

Days follow the user's local clock: most work between about 09:00 and 17:30, spreading their
sessions over the day, with a lunch break of their own around noon (which a session waits out);
an occasional evening session, quiet weekends. A session is several turns (user prompts) minutes
apart; a turn is an agent loop of invocations, each maybe followed by a shell command, a test run
or a check, whose outcomes run in streaks within the session (`replay.simulator.checks`). Some
sessions end in a pull request: when the latest check passed, and only after a passing assertion (anything
else would be a real policy violation, which only injected incidents may contain).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from replay.simulator.checks import SessionChecks
from replay.simulator.commands import (
    BRANCH_PREFIX,
    COMMIT_VERB,
    SLUGS,
    assertion_name,
    fill,
    ordinary_command,
    test_command,
)
from replay.simulator.population import WORKFLOWS, User
from replay.simulator.shape import Traffic
from replay.simulator.traffic import DEFAULT_TRAFFIC, SessionBuilder, World

DAY_S = 86_400
US = 1_000_000
WORKFLOW_NAMES = tuple(w for w, _ in WORKFLOWS)
WORKFLOW_WEIGHTS = tuple(p for _, p in WORKFLOWS)
# Everyone has lunch around noon, but not at the same minute: (mean, sd) of the start, length range.
LUNCH_START_H = (12.2, 0.45)
LUNCH_LENGTH_H = (0.5, 1.0)
LUNCH_AT_DESK = 0.2  # share of days with lunch at the desk: work goes on through it
# Mean prompts of a session beyond the first, and invocations of a prompt beyond the first.
EXTRA_TURNS = 4.5
EXTRA_STEPS = 1.6
# Between two prompts of a session the developer reads, reviews and edits: minutes, heavy tailed.
THINK_MEDIAN_S = 300.0
THINK_MAX_S = 2700.0
PR_WORKFLOWS = frozenset(("feature", "bugfix", "refactor", "test-writing", "docs", "migration"))


def weekday(day: int) -> int:
    """Monday = 0 for a day counted from the epoch (1970-01-01 was a Thursday)."""
    return (day + 3) % 7


def local_midnight_us(user: User, day: int) -> int:
    return (day * DAY_S - user.utc_offset_s) * US


@dataclass(frozen=True)
class Presence:
    """When someone is at their desk on a working day (µs): the next prompt of a session waits
    out their lunch break, and a session still open when they leave gets no more prompts."""

    lunch: tuple[int, int]
    leave: int

    def next_prompt(self, rng: random.Random, t: int) -> int | None:
        """The earliest time of a prompt that would come at `t`; None once they are gone."""
        if self.lunch[0] <= t < self.lunch[1]:
            t = self.lunch[1] + rng.randint(60, 900) * US
        return None if t > self.leave else t


def session_starts(
    rng: random.Random, user: User, day: int, traffic: Traffic = DEFAULT_TRAFFIC
) -> tuple[list[int], Presence | None]:
    """Start times (µs) of the sessions `user` opens on local `day`, sorted, and their presence
    (None on a day they do not come in). `traffic` shapes how much and when
    (`replay.simulator.shape`)."""
    midnight = local_midnight_us(user, day)
    hours: list[float] = []
    presence = None
    if weekday(day) < 5:
        if rng.random() < 0.9:
            first, last = rng.gauss(9.0, 0.6), rng.gauss(17.6, 0.7)
            lunch = rng.gauss(*LUNCH_START_H)
            lunch_hours = (lunch, lunch + rng.uniform(*LUNCH_LENGTH_H))
            if rng.random() < LUNCH_AT_DESK:
                lunch_hours = (lunch, lunch)
            n = _poisson(rng, user.sessions_per_day * traffic.sessions_scale)
            if traffic.bursts:
                hours.extend(_bursts(rng, n, traffic.bursts, first, last))
            else:
                hours.extend(_spread_over_day(rng, n, first, last, lunch_hours))
            if rng.random() < traffic.evening_p:
                hours.append(rng.uniform(19.5, 22.0))
            at = [midnight + int(h * 3600 * US) for h in (*lunch_hours, last)]
            presence = Presence((at[0], at[1]), at[2])
    elif rng.random() < traffic.weekend_p:
        hours.extend(rng.uniform(10.0, 18.0) for _ in range(1 + _poisson(rng, 0.6)))
    if traffic.night_p and rng.random() < traffic.night_p:
        hours.append(rng.uniform(0.5, 5.0))
    return sorted(midnight + int(h * 3600 * US) for h in hours), presence


def _bursts(rng: random.Random, n: int, bursts: int, first: float, last: float) -> list[float]:
    """Start hours of `n` sessions gathered in `bursts` intense stretches of the working day."""
    centres = [rng.uniform(first, last) for _ in range(bursts)]
    return [min(last, max(first, rng.gauss(rng.choice(centres), 0.25))) for _ in range(n)]


def _spread_over_day(
    rng: random.Random, n: int, first: float, last: float, lunch: tuple[float, float]
) -> list[float]:
    """Start hours of `n` sessions over the working day outside lunch: one in each of n equal
    shares of the working time, at a random point of it (people spread their work over the
    day; a uniform draw for each session would pile some up and leave hours empty)."""
    lunch_start = min(max(lunch[0], first), last)
    lunch_end = min(max(lunch[1], lunch_start), last)
    working = (last - first) - (lunch_end - lunch_start)
    hours = []
    for i in range(n):
        h = first + working * (i + rng.random()) / n
        hours.append(h if h < lunch_start else h + (lunch_end - lunch_start))
    return hours


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def user_day(world: World, rng: random.Random, user: User, day: int, lo: int, hi: int) -> None:
    """All ordinary sessions of `user` on local `day` that start within [lo, hi)."""
    free = 0
    starts, presence = session_starts(rng, user, day, world.traffic)
    for start in starts:
        start = max(start, free + rng.randint(30, 600) * US)
        if not lo <= start < hi:
            continue
        workflow = rng.choices(WORKFLOW_NAMES, weights=WORKFLOW_WEIGHTS)[0]
        repo = rng.choice(user.repos)
        b = SessionBuilder(world, rng, user, repo, workflow, start)
        # An evening session (begun after leaving the office) runs on its own clock.
        free = ordinary_session(b, presence if presence and start < presence.leave else None)


def ordinary_session(b: SessionBuilder, presence: Presence | None = None) -> int:
    """Drive one ordinary session to its end; returns the end time."""
    rng, user, repo = b.rng, b.user, b.repo
    mod = rng.choice(("auth", "billing", "cart", "config", "handlers", "parser", "client"))
    branch = f"{BRANCH_PREFIX[b.workflow]}/{rng.choice(SLUGS)}"
    known = {"mod": mod, "branch": branch, "base": repo.base_branch, "team": user.team.name}
    review = b.workflow == "code-review"
    checks = SessionChecks(rng)
    t = end = b.start
    for turn in range(1 + _geometric(rng, EXTRA_TURNS)):
        if turn:
            prompt = _think(rng, presence, end)
            if prompt is None:  # gone for the day: the session is left as it is
                return end
            t = prompt
        b.turn(t)
        for step_no in range(1 + _geometric(rng, EXTRA_STEPS)):
            step = "plan" if turn == 0 and step_no == 0 else ("review" if review else "implement")
            t = _invoke_with_retry(b, t, step)
            t = _tool_use(b, t, step, known, checks)
            t += _gap(rng)
        end = t
    # Shipped only when the latest check is green and one of them made it into the telemetry.
    if b.workflow in PR_WORKFLOWS and checks.green and b.passed_assertion and rng.random() < 0.45:
        prompt = _think(rng, presence, end)
        if prompt is not None:
            end = ship(b, prompt, branch, known)
    return end


def _tool_use(
    b: SessionBuilder, t: int, step: str, known: dict[str, str], checks: SessionChecks
) -> int:
    """After a call, maybe a shell command, a test run (with its assertion) or an assertion."""
    rng, language, mod = b.rng, b.repo.language, known["mod"]
    roll = rng.random()
    if roll < 0.40:
        command = ordinary_command(rng, language, **known)
        return b.shell(t + _gap(rng), step, command, exit_code=_exit_code(rng, 0.05))
    if roll < 0.52:
        command = test_command(rng, language, **known)
        passed = checks.outcome()
        seconds = min(120.0, rng.lognormvariate(2.4, 0.8))
        exit_code = 0 if passed else 1
        t = b.shell(t + _gap(rng), "test", command, exit_code=exit_code, seconds=seconds)
        if rng.random() < 0.7:
            name = assertion_name(rng, mod=mod)
            t = b.assertion(t + _gap(rng), "test", name, passed, rng.uniform(0.05, 0.5))
        return t
    if roll < 0.58:
        name = assertion_name(rng, mod=mod)
        passed = checks.outcome()
        return b.assertion(t + _gap(rng), "test", name, passed, rng.uniform(0.5, 20.0))
    return t


def _think(rng: random.Random, presence: Presence | None, t: int) -> int | None:
    """When the developer's next prompt comes after the agent stopped at `t` (None: never)."""
    t += int(min(THINK_MAX_S, rng.lognormvariate(math.log(THINK_MEDIAN_S), 0.9)) * US)
    return t if presence is None else presence.next_prompt(rng, t)


def ship(b: SessionBuilder, t: int, branch: str, known: dict[str, str]) -> int:
    """Commit, push the feature branch and open a pull request against the default branch."""
    rng = b.rng
    b.turn(t)
    t = _invoke_with_retry(b, t, "ship")
    message = fill(COMMIT_VERB[b.workflow], rng, **known)
    t = b.shell(t + _gap(rng), "ship", f'git commit -am "{message}"', seconds=0.4)
    t = b.shell(t + _gap(rng), "ship", f"git push -u origin {branch}", seconds=rng.uniform(1, 4))
    end, _ = b.pr(t + _gap(rng), b.repo.base_branch, branch)
    return end


def _invoke_with_retry(b: SessionBuilder, t: int, step: str) -> int:
    """Invoke; an error is retried (with backoff) up to twice, as Claude Code does."""
    result = b.invoke(t, step)
    for attempt in range(2):
        if not result.error:
            break
        t = result.end + int((0.5 * 2**attempt + b.rng.random()) * US)
        result = b.invoke(t, step)
    return result.end


def _geometric(rng: random.Random, mean: float) -> int:
    """Number of extra items with the given mean (geometric on 0, 1, 2, …)."""
    p = 1.0 / (1.0 + mean)
    return int(math.log(1.0 - rng.random()) / math.log(1.0 - p))


def _gap(rng: random.Random) -> int:
    return rng.randint(150_000, 1_500_000)


def _exit_code(rng: random.Random, failure: float) -> int:
    return 0 if rng.random() >= failure else rng.choice((1, 1, 2, 127))
