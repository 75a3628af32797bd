"""Which tokens and which keys the token drift test should watch: found, delay and false alarms.

Run: .venv/bin/python bench/token_drift_choices.py --history PATH... --truth FILE [--threshold 13 16]

tokens-per-invocation-drift runs a one-sided Page-Hinkley test on the log of the median tokens
per call per key and 15-minute window. Which tokens (input and output together, input alone,
output alone) and which key (the team, or the team on each model) decide what moves that
median besides a drift: input tokens move with context length and cache reads, a team's median
moves with its model mix (one person on a model that writes ten times longer answers moves it
tenfold). This replays the detector's own test (detectors.changepoint.ChangePoint with the
entry's parameters, a day of warm-up, five calls a window) over every choice on the same
history and prints, per choice: the injected token drifts found (an alarm of the drifting team
from 15 minutes before its start to 2 hours after its end), the delay of each, and the alarms
outside every drift (false). Sums over several histories compare choices; one history says
little, for a team's drift is one event.

Calls are the detectors' (spans and Claude Code's request events, each call once: a session's
log events are left out when the session sent spans); failed calls are left out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.token_drift_signal import call_events
from detectors.changepoint import ChangePoint, ChangePointParams
from engine.timeutil import parse_time

WINDOW = 900.0
WARMUP = 86400.0  # the detectors' default warm-up
MIN_CALLS = 5  # the entry's min_count
BEFORE, AFTER = 900.0, 7200.0  # an alarm this close to a drift is the drift's
DRIFT_KINDS = ("token_drift", "token_burn_drift")  # as truth files spell the kind


@dataclass(frozen=True)
class Call:
    time: float
    team: str
    model: str
    tokens_in: float
    tokens_out: float


TOKENS: dict[str, Callable[[Call], float]] = {
    "in+out": lambda c: c.tokens_in + c.tokens_out,
    "in": lambda c: c.tokens_in,
    "out": lambda c: c.tokens_out,
}
KEYS: dict[str, Callable[[Call], tuple[str, ...]]] = {
    "team": lambda c: (c.team,),
    "team x model": lambda c: (c.team, c.model),
}


def read_calls(paths: Iterable[str]) -> list[Call]:
    """The history's model calls, each call once, in time order."""
    calls = [
        Call(
            float(e["time"]),
            str(e.get("team", "")),
            str(e.get("model", "")),
            float(e.get("tokens_in") or 0),
            float(e.get("tokens_out") or 0),
        )
        for e in call_events(paths)
    ]
    return sorted(calls, key=lambda c: c.time)


def drifts(truth: Path) -> list[tuple[str, float, float]]:
    """(team, start, end) of each injected token drift."""
    out = []
    for line in truth.read_text().splitlines():
        t = json.loads(line) if line.strip() else {}
        if t.get("kind") in DRIFT_KINDS and "team" in t.get("group", {}):
            out.append((t["group"]["team"], parse_time(t["start"]), parse_time(t["end"])))
    return out


@dataclass
class Outcome:
    """One choice's alarms on one history: delay per injected drift (None: missed), false ones."""

    delays: list[float | None]
    false: list[tuple[str, float]] = field(default_factory=list)


def replay(
    calls: list[Call],
    injected: list[tuple[str, float, float]],
    tokens: Callable[[Call], float],
    key: Callable[[Call], tuple[str, ...]],
    threshold: float,
) -> Outcome:
    """The detector's test on one choice of tokens and key, window by window."""
    windows: dict[int, dict[tuple[str, ...], list[float]]] = defaultdict(lambda: defaultdict(list))
    for c in calls:
        value = tokens(c)
        if value > 0:
            windows[int(c.time // WINDOW)][key(c)].append(value)
    params = ChangePointParams(direction="up", transform="log", threshold=threshold)
    models: dict[tuple[str, ...], ChangePoint] = {}
    first: dict[int, float] = {}
    false: list[tuple[str, float]] = []
    start = calls[0].time if calls else 0.0
    for w in sorted(windows):
        t = w * WINDOW
        for k, values in windows[w].items():
            if len(values) < MIN_CALLS:
                continue
            x = statistics.median(values)
            model = models.setdefault(k, ChangePoint(params))
            score = model.score_one(x, t)
            model.learn_one(x, t)
            if score < 0.5 or t < start + WARMUP:
                continue
            at = t + WINDOW  # the window closes
            hits = [
                i
                for i, (team, a, b) in enumerate(injected)
                if team == k[0] and a - BEFORE <= at <= b + AFTER
            ]
            if hits:
                first.setdefault(hits[0], at - injected[hits[0]][1])
            else:
                false.append((k[0], at))
    return Outcome([first.get(i) for i in range(len(injected))], false)


def measure(history: list[str], truth: Path, thresholds: list[float]) -> dict[str, Outcome]:
    """Every choice of tokens, key and threshold on one history."""
    calls, injected = read_calls(history), drifts(truth)
    return {
        f"{tokens_name} by {key_name} at {threshold:g}": replay(
            calls, injected, tokens, key, threshold
        )
        for threshold in thresholds
        for tokens_name, tokens in TOKENS.items()
        for key_name, key in KEYS.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", nargs="+", required=True)
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--threshold", nargs="+", type=float, default=[13.0, 16.0])
    args = parser.parse_args(argv)
    outcomes = measure(args.history, args.truth, args.threshold)
    print(f"{'choice':30s} {'found':>7s} {'delays (s)':>24s} {'false':>6s}")
    for name, o in outcomes.items():
        found = sum(d is not None for d in o.delays)
        delays = ",".join("-" if d is None else f"{d:.0f}" for d in o.delays) or "-"
        print(f"{name:30s} {found:>3d}/{len(o.delays):<3d} {delays:>24s} {len(o.false):>6d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
