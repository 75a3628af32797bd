"""`spanwatch demo`: the quickstart's main job on embedded defaults.

Simulates a small organisation with labelled incidents, replays it through the engine
with the default rules and detectors, and prints what was raised next to what was injected.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

import orjson

from engine.backtest import Injection, collect_subject_labels
from engine.config import SpanwatchConfig
from engine.replay_run import ReplayOptions, print_summary, run_replay
from engine.timeutil import parse_time
from replay.simulator.simulate import SimulationSpec, simulate


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open("rb") as f:
        return [orjson.loads(line) for line in f if line.strip()]


def verdict(inj: Injection, found: list[dict[str, Any]], findings: list[dict[str, Any]]) -> str:
    """`DETECTED by … after … min`, `RECORDED as a finding by …` (by policy not paged), or
    `missed`."""
    if found:
        # an incident about the injected group itself first, then one about its team or repo
        first = min(found, key=lambda i: (not set(i["group"]) & set(inj.group), i["first_seen"]))
        delay = parse_time(first["first_seen"]) - inj.start
        return f"DETECTED by {first['rule_id']} after {max(delay, 0) / 60:.1f} min"
    noted = [f for f in findings if inj.matches(f, parse_time(f["first_seen"]))]
    if noted:
        return f"RECORDED as a finding by {noted[0]['rule_id']} (in the digest, not paged)"
    return "missed"


def run_demo(workdir: Path, *, days: int, users: int, seed: int, out: TextIO = sys.stdout) -> int:
    workdir.mkdir(parents=True, exist_ok=True)
    history = workdir / "history.jsonl.gz"
    truth_path = workdir / "truth.jsonl"
    log = workdir / "incidents.jsonl"
    print(f"simulating {days} day(s) of {users} users into {history} …", file=out)
    simulate(SimulationSpec(days=days, users=users, seed=seed), history, truth_path)
    config = SpanwatchConfig(state_dir=str(workdir / "state"))
    report = run_replay(config, ReplayOptions(paths=[str(history)], out=str(log)))
    print_summary(report, out=out)

    rows = read_jsonl(log)
    opened = [r["incident"] for r in rows if r["type"] == "incident.opened"]
    findings = [r["finding"] for r in rows if r["type"] == "finding.recorded"]
    injections = [Injection(t) for t in read_jsonl(truth_path)]
    collect_subject_labels([str(history)], injections)
    print("\ninjected incidents and what the engine raised:", file=out)
    explained: set[str] = set()
    for inj in injections:
        found = [i for i in opened if inj.matches(i, parse_time(i["first_seen"]))]
        explained.update(i["id"] for i in found)
        group = ", ".join(f"{k}={v}" for k, v in inj.truth.get("group", {}).items())
        print(f"  {inj.kind:<30} {group:<40} {verdict(inj, found, findings)}", file=out)
    others = [i for i in opened if i["id"] not in explained]
    print(f"\nincidents not matching an injected one: {len(others)} of {len(opened)}", file=out)
    for inc in others[:10]:
        group = ", ".join(f"{k}={v}" for k, v in inc["group"].items())
        print(f"  {inc['first_seen']}  {inc['severity']:<8} {inc['rule_id']}  {group}", file=out)
    print(f"\nfiles kept in {workdir} (history, truth, incident log)", file=out)
    return 0
