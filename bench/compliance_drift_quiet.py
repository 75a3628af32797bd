"""Does the compliance drift detector stay quiet on organisations whose adherence is steady?

Run: .venv/bin/python bench/compliance_drift_quiet.py [--days 28] [--users 20] [--keep DIR]

For a few organisation shapes (seed, size, spelling, export, zones, traffic), it simulates
`--days` of telemetry (`spanwatch simulate`: its injected incidents include one person's risky
commands, but no team's lasting change of habits), puts every event through the default rule
pack as `spanwatch report compliance` does, feeds the drift detector with its default settings
and prints, per shape: the verdicts it reached (team, category and day), its signals, the
teams it would open an incident for (the target: none) and their firing days. Not a timing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compliance.live_drift import DAY, AdherenceDrift, LiveDriftParams
from engine.compliance_report import _read_history
from engine.config import SpanwatchConfig
from engine.flow.run_setup import rule_paths
from rules.ruleset import RuleSet

SHAPES = {
    "reference": ["--seed", "1"],
    "claude-code-only": [
        "--seed",
        "7",
        "--spelling",
        "api",
        "--export",
        "logs",
        "--zones",
        "global",
    ],
    "bursty": ["--seed", "23", "--traffic", "bursty", "--batching", "session"],
}


class Mark:
    def __init__(self, event: dict[str, Any], cats: set[str]) -> None:
        self.time = float(event["time"])
        self.group = (event.get("team") or "unknown",)
        self.value = event["session"]
        self.values: tuple[float | str | None, ...] = tuple(sorted(cats))


class DriftFeed:
    """What `_read_history` feeds a compliance tally, fed to the drift detector instead."""

    def __init__(self) -> None:
        self.drift = AdherenceDrift(LiveDriftParams())
        self.pending: tuple[dict[str, Any], set[str]] | None = None
        self.signals: list[Any] = []
        self.last = 0.0

    def _flush(self) -> None:
        if self.pending is not None:
            event, cats = self.pending
            if isinstance(event.get("session"), str) and event["session"]:
                self.drift.update(Mark(event, cats))
            self.pending = None

    def add_event(self, event: dict[str, Any]) -> None:
        self._flush()
        self.pending = (event, set())
        self.last = max(self.last, float(event["time"]))

    def add_hit(self, event: dict[str, Any], rule_id: str, category: str | None) -> None:
        assert self.pending is not None
        self.pending[1].add(category or "")

    def finish(self) -> None:
        self._flush()
        self.signals = self.drift.advance(self.last + DAY)


def judge(history: Path) -> dict[str, Any]:
    config = SpanwatchConfig()
    ruleset = RuleSet.load(rule_paths(config), config.rules)
    feed = DriftFeed()
    # history sorted by time is not needed: days close only at the end
    _read_history([str(history)], config, ruleset, feed, float("-inf"), float("inf"))  # type: ignore[arg-type]
    feed.finish()
    opened = [s for s in feed.signals if s.firing]
    return {
        "verdicts": feed.drift.stats["verdicts"],
        "signals": len(feed.signals),
        "teams_opened": sorted({s.group["team"] for s in opened}),
        "firing_days": len(opened),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--keep")
    args = ap.parse_args()
    tmp = Path(args.keep or tempfile.mkdtemp())
    tmp.mkdir(parents=True, exist_ok=True)
    for name in args.shapes.split(","):
        out = tmp / f"{name}.jsonl"
        if not out.exists():
            subprocess.run(
                [sys.executable, "-m", "engine.cli", "simulate", "--days", str(args.days),
                 "--users", str(args.users), "--quiet", "--out", str(out), *SHAPES[name]],
                check=True,
            )  # fmt: skip
        result = judge(out)
        print(f"{name:18} {args.days} days, {args.users} users: {result}", flush=True)


if __name__ == "__main__":
    main()
