"""How well two per-team signals of tokens per call separate an injected drift from noise.

Run: .venv/bin/python bench/token_drift_signal.py --history PATH... --truth FILE

A team's tokens per call drifting up is watched on one number per team and 15-minute window.
This measures two candidates on the same history, before any detector is built on them:

- team median: the log of the median tokens per call of the team's calls in the window, less
  an exponentially weighted mean of the team's own past windows (what the
  tokens-per-invocation-drift detector sees);
- mix-adjusted: every call's log tokens less its own user's running mean (over calls, from
  the user's twentieth call on), and the median of these residuals over the team's calls in
  the window; who is at work then no longer moves the number, only how each person's calls
  compare with their own.

Both baselines stop learning inside an injected drift of the team (its start to 2 hours
after its end), so the figures are of the signal, not of a detector's learning rule. For each
signal it prints the noise (standard deviation of the windows outside every drift, with at
least 5 calls), the effect (mean over the drift's second quarter, when a linear creep has
reached a third to a half of its size) and their ratio; the last column is the ratio of the
mix-adjusted signal's to the team median's, so figures from noisy and quiet organisations
compare. Calls are the detectors' (spans and Claude Code's request events, each call once:
a session's log events are left out when the session sent spans).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.otlp.aliases import AliasTable
from engine.otlp.line_decoder import DecodeError, decode_line
from engine.timeutil import parse_time
from replay.readers import expand_paths, read_lines

WINDOW = 900.0
TEAM_ALPHA = 0.05  # the team median's baseline: about five hours of windows
USER_ALPHA = 0.01  # a user's baseline: about a hundred calls
USER_SETTLE = 20  # calls before a user's residuals count
MIN_CALLS = 5  # calls of a team in a window for a point
CLIP = 2.5  # a residual's bound (log units): one huge call is one vote, not a level
AFTER = 8  # windows after a drift's end still left out of the noise
CALLS = ("claude.invoke", "claude_code.api_request")
DRIFT_KINDS = ("token_drift", "token_burn_drift")  # as truth files spell the kind

Call = tuple[float, str, str, float]  # time, team, user, tokens


def call_events(paths: Iterable[str]) -> list[dict[str, Any]]:
    """The history's decoded model calls, each call once: a session's span where it has one,
    else its Claude Code event."""
    aliases = AliasTable()
    spans, logs, with_spans = [], [], set()
    for f in expand_paths(list(paths)):
        for _line_no, raw in read_lines(f):
            try:
                events = decode_line(raw, aliases)
            except DecodeError:
                continue
            for e in events:
                if e.get("name") not in CALLS or not isinstance(e.get("time"), int | float):
                    continue
                if e["name"] == "claude.invoke":
                    spans.append(e)
                    with_spans.add(e.get("session"))
                else:
                    logs.append(e)
    return spans + [e for e in logs if e.get("session") not in with_spans]


def read_calls(paths: Iterable[str]) -> list[Call]:
    """The history's model calls with tokens, each call once, in time order."""
    calls = []
    for e in call_events(paths):
        tokens = float(e.get("tokens_in") or 0) + float(e.get("tokens_out") or 0)
        if tokens > 0:
            calls.append((float(e["time"]), str(e.get("team", "")), str(e.get("user", "")), tokens))
    return sorted(calls)


def drifts(truth: Path) -> list[tuple[str, int, int]]:
    """(team, first window, last window) of each injected token drift."""
    out = []
    for line in truth.read_text().splitlines():
        t = json.loads(line) if line.strip() else {}
        if t.get("kind") in DRIFT_KINDS and "team" in t.get("group", {}):
            start, end = parse_time(t["start"]), parse_time(t["end"])
            out.append((t["group"]["team"], int(start // WINDOW), int(end // WINDOW)))
    return out


class Signals:
    """Both signals' points, sorted into noise and effect by the injected drifts."""

    def __init__(self, injected: list[tuple[str, int, int]]) -> None:
        self.injected = injected
        self.team_loc: dict[str, float] = {}
        self.user_loc: dict[tuple[str, str], float] = {}
        self.user_calls: dict[tuple[str, str], int] = defaultdict(int)
        self.points: dict[str, dict[str, list[float]]] = {
            name: {"noise": [], "effect": []} for name in ("team median", "mix-adjusted")
        }

    def _inside(self, team: str, w: int) -> bool:
        return any(team == t and a - 2 <= w <= b + AFTER for t, a, b in self.injected)

    def _effect(self, team: str, w: int) -> bool:
        return any(team == t and a + (b - a) / 4 <= w <= (a + b) / 2 for t, a, b in self.injected)

    def _add(self, name: str, team: str, w: int, value: float) -> None:
        if self._effect(team, w):
            self.points[name]["effect"].append(value)
        elif not self._inside(team, w):
            self.points[name]["noise"].append(value)

    def window(self, w: int, calls: list[Call]) -> None:
        tokens: dict[str, list[float]] = defaultdict(list)
        residuals: dict[str, list[float]] = defaultdict(list)
        for _, team, user, n in calls:
            x, key = math.log(n), (team, user)
            tokens[team].append(n)
            if self.user_calls[key] >= USER_SETTLE:
                residuals[team].append(max(-CLIP, min(CLIP, x - self.user_loc[key])))
            if not self._inside(team, w):
                self.user_calls[key] += 1
                a = max(1.0 / self.user_calls[key], USER_ALPHA)
                loc = self.user_loc.get(key, x)
                self.user_loc[key] = loc + a * (x - loc)
        for team, values in tokens.items():
            if len(values) < MIN_CALLS:
                continue
            x = math.log(statistics.median(values))
            if team in self.team_loc:
                self._add("team median", team, w, x - self.team_loc[team])
            if not self._inside(team, w):
                loc = self.team_loc.get(team, x)
                self.team_loc[team] = loc + TEAM_ALPHA * (x - loc)
            if len(residuals[team]) >= MIN_CALLS:
                self._add("mix-adjusted", team, w, statistics.median(residuals[team]))

    def figures(self) -> dict[str, tuple[float, float, float]]:
        """(noise, effect, effect / noise) per signal (effect nan without a drift)."""
        out = {}
        for name, p in self.points.items():
            noise = statistics.pstdev(p["noise"]) if len(p["noise"]) > 1 else math.nan
            effect = statistics.fmean(p["effect"]) if p["effect"] else math.nan
            out[name] = (noise, effect, effect / noise if noise > 0 else math.nan)
        return out


def measure(history: list[str], truth: Path) -> dict[str, tuple[float, float, float]]:
    signals = Signals(drifts(truth))
    current, batch = None, []
    for call in read_calls(history):
        w = int(call[0] // WINDOW)
        if current is not None and w != current:
            signals.window(current, batch)
            batch = []
        current = w
        batch.append(call)
    if current is not None:
        signals.window(current, batch)
    return signals.figures()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", nargs="+", required=True)
    parser.add_argument("--truth", type=Path, required=True)
    args = parser.parse_args(argv)
    figures = measure(args.history, args.truth)
    print(f"{'signal':14s} {'noise':>7s} {'effect':>7s} {'ratio':>7s} {'vs team median':>15s}")
    base = figures["team median"][2]
    for name, (noise, effect, ratio) in figures.items():
        print(f"{name:14s} {noise:7.3f} {effect:7.3f} {ratio:7.2f} {ratio / base:15.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
