"""Token drift: the per-call creep test against the team's window changepoint, on one history.

Run: .venv/bin/python bench/token_creep.py --history PATH... --truth FILE [--set pool_k=1 h=20]

Both entries of the default set (`tokens-per-invocation-drift`, kind changepoint on the team's
window median; `tokens-per-call-creep`, kind creep on each caller's calls against the pooled
baseline) run on the detectors' own state classes (`detectors.detectorset.DetectorState`), fed the history's events in time order
with windows closed as event time passes, without the rest of the dataflow (no incident book,
no noise budget: an alert that opens is counted as an incident). For each entry it prints the
injected token drifts found (an alert opened from 5 minutes before a drift's start to 30
minutes after its end, whose team, and user if both name one, are the drift's), the
delay of each, and the alerts that match no injection of any kind (false). `--set` overrides
the creep entry's params (`name=value`, e.g. `baseline=own`), to compare settings on the
same history.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.config import DetectorSpec, default_detectors
from detectors.detectorset import DetectorSet, DetectorState
from detectors.model import Signal
from engine.otlp.aliases import AliasTable
from engine.otlp.line_decoder import DecodeError, decode_line
from engine.timeutil import parse_time
from replay.readers import expand_paths, read_lines

ENTRIES = ("tokens-per-invocation-drift", "tokens-per-call-creep")
DRIFT_KINDS = ("token_drift", "token_burn_drift")  # as truth files spell the kind
BEFORE, AFTER = 300.0, 1800.0  # the backtest's matching window around an injection


def read_events(paths: Iterable[str]) -> list[dict[str, Any]]:
    """The history's decoded events, in event-time order."""
    aliases, events = AliasTable(), []
    for f in expand_paths(list(paths)):
        for _line_no, raw in read_lines(f):
            try:
                events.extend(decode_line(raw, aliases))
            except DecodeError:
                continue
    events = [e for e in events if isinstance(e.get("time"), int | float)]
    events.sort(key=lambda e: e["time"])
    return events


def run(spec: DetectorSpec, events: list[dict[str, Any]]) -> tuple[list[Signal], float]:
    """The alerts the entry opens over the events, and the seconds its state took."""
    detectors = DetectorSet([spec])
    state = detectors.new_state(spec.id)
    assert isinstance(state, DetectorState)
    opened: list[Signal] = []
    firing: set[tuple[str, ...]] = set()
    took = 0.0

    def note(signals: list[Signal]) -> None:
        """An alert opens with its first firing signal (one comes every window it fires)."""
        for s in signals:
            key = tuple(s.group.values())
            if s.firing and key not in firing:
                opened.append(s)
            (firing.add if s.firing else firing.discard)(key)

    for e in events:
        observations = detectors.route(e)
        started = time.perf_counter()
        note(state.advance(float(e["time"])))
        state.update_many(observations)
        took += time.perf_counter() - started
    if events:
        note(state.advance(float(events[-1]["time"]) + 86400.0))
    return opened, took


def load_truth(path: Path) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def matches(signal: Signal, inj: dict[str, Any], team_of: dict[str, str]) -> bool:
    start, end = parse_time(inj["start"]), parse_time(inj["end"])
    if not start - BEFORE <= signal.time <= end + AFTER:
        return False
    group, want = signal.group, inj.get("group", {})
    team = group.get("team") or team_of.get(group.get("user", ""), "")
    if "team" in want and want["team"] != team:
        return False
    if "user" not in want:
        return True
    if "user" in group:
        return bool(want["user"] == group["user"])
    return team_of.get(want["user"]) == team  # a team's alert carries its people's team


def score(name: str, opened: list[Signal], truth: list[dict[str, Any]], team_of: dict[str, str]):
    drifts = [t for t in truth if t.get("kind") in DRIFT_KINDS]
    delays, missed = [], 0
    for inj in drifts:
        found = [s.time for s in opened if matches(s, inj, team_of)]
        if found:
            delays.append(min(found) - parse_time(inj["start"]))
        else:
            missed += 1
    false = [s for s in opened if not any(matches(s, inj, team_of) for inj in truth)]
    median = f"{statistics.median(delays):,.0f} s" if delays else "-"
    print(
        f"{name:30} found {len(delays)}/{len(drifts)}  delays {[round(d) for d in delays]} "
        f"(median {median})  opened {len(opened)}  false {len(false)}"
    )
    for s in false[:10]:
        print(f"    false at {s.time:.0f}: {s.group} {s.evidence.get('value')}")


def _value(text: str) -> Any:
    """A `--set` value: a whole number, a number, or a word (`baseline=own`)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--history", nargs="+", required=True)
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--set", nargs="*", default=[], help="creep params, name=value")
    parser.add_argument("--warmup", help="the creep entry's warm-up (a duration)")
    parser.add_argument("--field", help="the creep entry's size field(s), comma-separated")
    args = parser.parse_args()
    events = read_events(args.history)
    team_of = {str(e.get("user")): str(e.get("team")) for e in events if e.get("team")}
    truth = load_truth(args.truth)
    specs = {s.id: s for s in default_detectors() if s.id in ENTRIES}
    creep = specs["tokens-per-call-creep"]
    params = dict(creep.params)
    for item in args.set:
        key, value = item.split("=", 1)
        params[key] = _value(value)
    raw = {**creep.model_dump(by_alias=True, exclude_unset=True), "params": params}
    raw["enabled"] = True  # as a copy of the set may have it off
    if args.warmup:
        raw["warmup"] = args.warmup
    if args.field:
        raw["metrics"] = [{**raw["metrics"][0], "field": args.field.split(",")}, raw["metrics"][1]]
    specs[creep.id] = DetectorSpec.model_validate(raw)
    size = specs[creep.id].metric_specs[0].field
    print(f"{len(events):,} events; creep params {params}, size {size}")
    for entry in ENTRIES:
        opened, took = run(specs[entry], events)
        score(entry, opened, truth, team_of)
        print(f"    state time {took:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
