"""Ordinary work: when people use the assistant, and what one of their sessions looks like.

Days follow the user's local clock: most work between about 09:00 and 17:30 with a lunch dip,
an occasional evening session, quiet weekends. A session is a few turns (user prompts); a turn
is an agent loop of invocations, each maybe followed by a shell command, a test run or a check;
some sessions end in a pull request, and only after a check passed (anything else would be a
real policy violation, which only injected incidents may contain).
"""

from __future__ import annotations

import math
import random

from replay.commands import (
    BRANCH_PREFIX,
    COMMIT_VERB,
    SLUGS,
    assertion_name,
    fill,
    ordinary_command,
    test_command,
)
from replay.population import WORKFLOWS, User
from replay.traffic import SessionBuilder, World

DAY_S = 86_400
US = 1_000_000
WORKFLOW_NAMES = tuple(w for w, _ in WORKFLOWS)
WORKFLOW_WEIGHTS = tuple(p for _, p in WORKFLOWS)
PR_WORKFLOWS = frozenset(("feature", "bugfix", "refactor", "test-writing", "docs", "migration"))


def weekday(day: int) -> int:
    """Monday = 0 for a day counted from the epoch (1970-01-01 was a Thursday)."""
    return (day + 3) % 7


def local_midnight_us(user: User, day: int) -> int:
    return (day * DAY_S - user.utc_offset_s) * US


def session_starts(rng: random.Random, user: User, day: int) -> list[int]:
    """Start times (µs) of the sessions `user` opens on local `day`, sorted."""
    midnight = local_midnight_us(user, day)
    hours: list[float] = []
    if weekday(day) < 5:
        if rng.random() < 0.9:
            first, last = rng.gauss(9.0, 0.6), rng.gauss(17.6, 0.7)
            for _ in range(_poisson(rng, user.sessions_per_day)):
                hours.append(_working_hour(rng, first, last))
            if rng.random() < 0.08:
                hours.append(rng.uniform(19.5, 22.0))
    elif rng.random() < 0.07:
        hours.extend(rng.uniform(10.0, 18.0) for _ in range(1 + _poisson(rng, 0.6)))
    return sorted(midnight + int(h * 3600 * US) for h in hours)


def _working_hour(rng: random.Random, first: float, last: float) -> float:
    while True:
        h = rng.uniform(first, last)
        if not 12.0 <= h < 13.0 or rng.random() < 0.35:
            return h


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def user_day(world: World, rng: random.Random, user: User, day: int, lo: int, hi: int) -> None:
    """All ordinary sessions of `user` on local `day` that start within [lo, hi)."""
    free = 0
    for start in session_starts(rng, user, day):
        start = max(start, free + rng.randint(30, 600) * US)
        if not lo <= start < hi:
            continue
        workflow = rng.choices(WORKFLOW_NAMES, weights=WORKFLOW_WEIGHTS)[0]
        repo = rng.choice(user.repos)
        free = ordinary_session(SessionBuilder(world, rng, user, repo, workflow, start))


def ordinary_session(b: SessionBuilder) -> int:
    """Drive one ordinary session to its end; returns the end time."""
    rng, user, repo = b.rng, b.user, b.repo
    mod = rng.choice(("auth", "billing", "cart", "config", "handlers", "parser", "client"))
    branch = f"{BRANCH_PREFIX[b.workflow]}/{rng.choice(SLUGS)}"
    known = {"mod": mod, "branch": branch, "base": repo.base_branch, "team": user.team.name}
    review = b.workflow == "code-review"
    t = b.start
    for turn in range(1 + _geometric(rng, 2.5)):
        b.turn(t)
        for step_no in range(1 + _geometric(rng, 3.0)):
            step = "plan" if turn == 0 and step_no == 0 else ("review" if review else "implement")
            t = _invoke_with_retry(b, t, step)
            roll = rng.random()
            if roll < 0.40:
                command = ordinary_command(rng, repo.language, **known)
                t = b.shell(t + _gap(rng), step, command, exit_code=_exit_code(rng, 0.05))
            elif roll < 0.52:
                command = test_command(rng, repo.language, **known)
                passed = rng.random() < 0.8
                seconds = min(120.0, rng.lognormvariate(2.4, 0.8))
                exit_code = 0 if passed else 1
                t = b.shell(t + _gap(rng), "test", command, exit_code=exit_code, seconds=seconds)
                if rng.random() < 0.7:
                    name = assertion_name(rng, mod=mod)
                    t = b.assertion(t + _gap(rng), "test", name, passed, rng.uniform(0.05, 0.5))
            elif roll < 0.58:
                name = assertion_name(rng, mod=mod)
                passed = rng.random() < 0.85
                t = b.assertion(t + _gap(rng), "test", name, passed, rng.uniform(0.5, 20.0))
            t += _gap(rng)
        t += int(min(1200.0, rng.lognormvariate(math.log(75.0), 0.8)) * US)
    if b.workflow in PR_WORKFLOWS and b.passed_assertion and rng.random() < 0.45:
        t = ship(b, t, branch, known)
    return t


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
