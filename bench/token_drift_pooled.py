"""Token drift judged against the organisation's calls: each person's calls against a baseline
pooled over everyone's calls at the same place in a session, on one history.

Run: .venv/bin/python bench/token_drift_pooled.py --history PATH... --truth FILE [--k 1 --h 20]

`tokens-per-call-creep` judges a person against their own earlier calls, so a person with few
sessions behind them when their prompts start to creep is not judged at all (on generated
organisations, in two of three injected drifts no person concerned had ten sessions before).
This measures the other way before a detector is built on it: one baseline for the whole
organisation, per place in a session (calls 1, 2, 3, 4, then 5-8, 9-16, ...: a session's
context grows from call to call and is compacted), a running level and robust spread of the log
prompt size (`tokens_in`); each person's one-sided CUSUM of their calls' clipped, standardised
excess beyond `k` sigmas, alarming at `h` (and quiet for two hours after). A person under way
to an alarm (their sum above a quarter of `h`) teaches the baseline nothing. It prints the
injected token drifts found (an alarm of the drift's person, or of one of its team's people,
from 5 minutes before its start to 30 minutes after its end), the delay of each, and the
alarms that match no injection of any kind (false). Failed calls are left out; each call
counts once (a session's span where it has one, else its Claude Code event).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.token_drift_signal import call_events
from engine.timeutil import parse_time

PLACES = 10  # calls 1, 2, 3, 4, then 5-8, 9-16, ..., 129 and on
MAD_TO_SIGMA = 1.4826
QUIET_AFTER = 7200.0  # a person's alarm does not repeat within two hours
BEFORE, AFTER = 300.0, 1800.0  # the backtest's matching window around an injection
DRIFT_KINDS = ("token_drift", "token_burn_drift")  # as truth files spell the kind


@dataclass(frozen=True)
class Call:
    time: float
    team: str
    user: str
    session: str
    size: float


@dataclass(frozen=True)
class Params:
    """k: allowance per call in sigmas; h: the sum that alarms; clip: a call's bound in
    sigmas; min_place: the organisation's calls at a place before calls there are judged;
    alpha: the baseline's slowest learning rate per call."""

    k: float = 1.0
    h: float = 20.0
    clip: float = 4.0
    min_place: int = 300
    alpha: float = 0.002


@dataclass
class Found:
    delays: list[float | None] = field(default_factory=list)
    false: list[tuple[float, str]] = field(default_factory=list)
    alarms: list[tuple[float, str]] = field(default_factory=list)


def place(position: int) -> int:
    """A call's place in its session from its position (0: the first)."""
    return min(position if position < 4 else 1 + position.bit_length(), PLACES - 1)


def read_calls(paths: Iterable[str]) -> list[Call]:
    """The history's successful model calls with a prompt size, each call once, in time order."""
    calls = []
    for e in call_events(paths):
        size = float(e.get("tokens_in") or 0)
        if e.get("status") == "error" or size <= 0:
            continue
        user = str(e.get("user", ""))
        calls.append(
            Call(
                float(e["time"]),
                str(e.get("team", "")),
                user,
                str(e.get("session") or user),
                size,
            )
        )
    return sorted(calls, key=lambda c: c.time)


def alarms(calls: Sequence[Call], p: Params) -> list[tuple[float, str]]:
    """(time, person) of every alarm over the calls, in time order."""
    level, spread, count = [0.0] * PLACES, [0.0] * PLACES, [0] * PLACES
    positions: Counter[tuple[str, str]] = Counter()
    sums: defaultdict[str, float] = defaultdict(float)
    quiet_until: dict[str, float] = {}
    out = []
    for c in calls:
        at = place(positions[c.user, c.session])
        positions[c.user, c.session] += 1
        y = math.log(c.size)
        if count[at] >= p.min_place and spread[at] > 0.0:
            z = max(-p.clip, min(p.clip, (y - level[at]) / spread[at]))
            sums[c.user] = max(0.0, sums[c.user] + z - p.k)
            if sums[c.user] >= p.h:
                if c.time >= quiet_until.get(c.user, 0.0):
                    out.append((c.time, c.user))
                quiet_until[c.user], sums[c.user] = c.time + QUIET_AFTER, 0.0
            if sums[c.user] >= p.h / 4:
                continue  # a creep under way must not become the organisation's normal
        n = count[at] = count[at] + 1
        if n == 1:
            level[at] = y
            continue
        rate = max(1.0 / n, p.alpha)
        bound = p.clip * spread[at] if spread[at] > 0.0 else math.inf
        r = max(-bound, min(bound, y - level[at]))
        level[at] += rate * r
        spread[at] += rate * (MAD_TO_SIGMA * abs(r) - spread[at])
    return out


def matches(t: float, user: str, inj: dict[str, Any], team_of: dict[str, str]) -> bool:
    if not parse_time(inj["start"]) - BEFORE <= t <= parse_time(inj["end"]) + AFTER:
        return False
    group = inj.get("group", {})
    if "user" in group:
        return bool(group["user"] == user)
    return "team" not in group or group["team"] == team_of.get(user)


def score(calls: Sequence[Call], truth: Sequence[dict[str, Any]], p: Params) -> Found:
    """The drifts found (their delays, None: missed) and the false alarms."""
    team_of = {c.user: c.team for c in calls}
    found = Found(alarms=alarms(calls, p))
    for inj in truth:
        if inj.get("kind") in DRIFT_KINDS:
            hits = [t for t, u in found.alarms if matches(t, u, inj, team_of)]
            found.delays.append(min(hits) - parse_time(inj["start"]) if hits else None)
    found.false = [
        (t, u) for t, u in found.alarms if not any(matches(t, u, i, team_of) for i in truth)
    ]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--history", nargs="+", required=True)
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--k", type=float, default=Params.k)
    parser.add_argument("--h", type=float, default=Params.h)
    args = parser.parse_args(argv)
    truth = [json.loads(line) for line in args.truth.read_text().splitlines() if line.strip()]
    calls = read_calls(args.history)
    found = score(calls, truth, Params(k=args.k, h=args.h))
    got = [d for d in found.delays if d is not None]
    print(
        f"{len(calls):,} calls; k {args.k:g}, h {args.h:g}: found {len(got)}/{len(found.delays)} "
        f"drifts, delays {[round(d) for d in got]} s; alarms {len(found.alarms)}, "
        f"false {len(found.false)}"
    )
    for t, user in found.false[:10]:
        print(f"    false at {t:.0f}: {user}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
