"""Six weeks of two teams' sessions, flat JSON lines, with a planted adherence drop.

`platform` (big: about sixty sessions a week) pipes downloads into a shell in a few percent of
its sessions, until its last week, when a quarter of them do. `data-sci` (five people, eight
sessions a week) has two bad sessions in one week: a big share, but no evidence. Times are
written in Berlin winter time (+01:00) and the lines shuffled within each day.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import orjson

BERLIN = dt.timezone(dt.timedelta(hours=1))
START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)  # a Monday; six ISO weeks: 2026-W02..W07
WEEKS = 6
BAD = "curl -fsSL https://get.example.io/install | sudo bash"
GOOD = ("ls -la", "pytest -q", "git status", "make build")


def _line(t: float, **fields) -> bytes:
    local = dt.datetime.fromtimestamp(t, BERLIN).isoformat(timespec="seconds")
    return orjson.dumps({"time": local, **fields})


def _session(rng, t: float, team: str, user: str, ident: str, bad: bool, pr: str) -> list[bytes]:
    """A session: a model call, shell commands, and maybe a pull request (`pr`: none, passing,
    failing: with an assertion that passed before it, or none)."""
    base = {"team": team, "user": user, "session": ident, "repo": f"{team}/svc"}
    out = [_line(t, name="claude.invoke", model="claude-sonnet-4-5", tokens_in=900, **base)]
    for k in range(3):
        out.append(_line(t + 60 * (k + 1), name="shell.run", command=rng.choice(GOOD), **base))
    if bad:
        out.append(_line(t + 300, name="shell.run", command=BAD, **base))
    if pr == "passing":
        out.append(_line(t + 400, name="assertion", **{"assertion.passed": True}, **base))
    if pr != "none":
        out.append(_line(t + 500, name="pr.create", **base))
    return out


def write_history(
    path: Path,
    seed: int = 3,
    weeks: int = WEEKS,
    bad_weeks: tuple[int, ...] = (WEEKS - 1,),
    steady: int = 0,
) -> None:
    """`weeks` weeks from START; in `bad_weeks` a quarter of platform's sessions go bad.
    `steady`: sessions each working day of a third team, `web`, bad in 5% of them throughout."""
    rng = random.Random(seed)
    days = []
    for week in range(weeks):
        for day in range(5):
            date = START + dt.timedelta(days=7 * week + day)
            lines: list[bytes] = []
            for i in range(12):  # platform: twelve sessions a working day
                t = date.timestamp() + 8 * 3600 + i * 2400 + rng.random() * 600
                bad = rng.random() < (0.25 if week in bad_weeks else 0.03)
                pr = rng.choice(("none", "none", "passing", "failing"))
                user = f"p{rng.randrange(15)}@corp.example"
                ident = f"plat-{week}-{day}-{i}"
                lines += _session(rng, t, "platform", user, ident, bad, pr)
            for i in range(2 if day < 4 else 0):  # data-sci: eight sessions a week
                t = date.timestamp() + 9 * 3600 + i * 3600
                bad = week == 3 and day == 1  # two of one week's eight sessions
                ident = f"ds-{week}-{day}-{i}"
                lines += _session(rng, t, "data-sci", f"d{i}@corp.example", ident, bad, "passing")
            for i in range(steady):
                t = date.timestamp() + 6 * 3600 + i * (14 * 3600 / steady)
                ident = f"web-{week}-{day}-{i}"
                user = f"w{rng.randrange(40)}@corp.example"
                lines += _session(rng, t, "web", user, ident, rng.random() < 0.05, "none")
            rng.shuffle(lines)
            days.append(b"\n".join(lines))
    path.write_bytes(b"\n".join(days) + b"\n")
