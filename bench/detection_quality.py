"""Detection quality of the default rules and detectors on simulated traffic with ground truth.

Run: .venv/bin/python bench/detection_quality.py [--days 7] [--users 100] [--seed 1] [--keep DIR]

Simulates telemetry with injected incidents (`spanwatch simulate --truth`), replays it on
the embedded defaults (`spanwatch replay --out`), and prints, per injected incident kind:
detected or not and the detection delay in event time (first matching incident opened minus
the injected start); overall and per severity: opened incidents, false incidents per day and
the share of opened incidents that match no injected incident. Targets (issue 4): every kind
detected, critical kinds within 5 minutes, under 5% of opened incidents false; the product
requirement: under 5% false among critical alerts.

Matching is strict. An opened incident matches an injected one when
- it opens between the injection's start (minus one 5-minute window, for windows that
  straddle the start) and its end plus a 30-minute grace period, and
- every label of the incident's group is consistent with the injected incident: equal to
  the injected group's value for that label, or else a value that the injected subject's
  own events carried during the injection (a team-level cost alert for the team of the user
  whose agent ran away, an error-rate alert for the model and region that most of the
  user's calls went to). Alone, a label must be the value most of the subject's events
  carried (not one of the many teams that used a slow model). Sharing one label value with
  it is not enough.

`--keep DIR --reuse` re-runs only the replay on the data in DIR; `--score-only` also reuses
DIR's incident log (to score a log written by another version with the same matching).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.backtest import Injection, collect_subject_labels

CRITICAL_WITHIN = 300.0
FALSE_SHARE_TARGET = 0.05
SEVERITIES = ("critical", "high", "medium", "low", "info")


def parse_time(value: str | float) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=UTC).timestamp()


def run(cmd: list[str]) -> None:
    print("$", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.stdout.strip():
        print(done.stdout.strip())
    if done.returncode != 0:
        print(done.stderr.strip(), file=sys.stderr)
        raise SystemExit(f"command failed with exit code {done.returncode}")


def load_jsonl(path: Path) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", help="directory for the simulated data and incident log")
    parser.add_argument("--reuse", action="store_true", help="reuse the data in --keep")
    parser.add_argument("--score-only", action="store_true", help="reuse data and incident log")
    parser.add_argument("--show-false", action="store_true", help="list the false incidents")
    parser.add_argument("--spanwatch", default=str(Path(sys.executable).parent / "spanwatch"))
    args = parser.parse_args()

    workdir = Path(args.keep or tempfile.mkdtemp(prefix="spanwatch-quality-"))
    workdir.mkdir(parents=True, exist_ok=True)
    sim, truth_path, log = (
        workdir / "sim.jsonl",
        workdir / "truth.jsonl",
        workdir / "incidents.jsonl",
    )
    sw = args.spanwatch
    reuse = args.reuse or args.score_only
    if not (reuse and sim.exists() and truth_path.exists()):
        run([sw, "simulate", "--days", str(args.days), "--users", str(args.users),
             "--seed", str(args.seed), "--out", str(sim), "--truth", str(truth_path)])  # fmt: skip
    if not (args.score_only and log.exists()):
        run([sw, "replay", str(sim), "--out", str(log)])

    injections = [Injection(t) for t in load_jsonl(truth_path)]
    collect_subject_labels([str(sim)], injections)
    opened = [line for line in load_jsonl(log) if line.get("type") == "incident.opened"]
    matched: set[int] = set()
    per_kind: dict[str, list[tuple[bool, float | None, str]]] = defaultdict(list)
    for inj in injections:
        delays = []
        for i, line in enumerate(opened):
            at = parse_time(line["at"])
            if inj.matches(line["incident"], at):
                matched.add(i)
                delays.append(at - inj.start)
        per_kind[inj.kind].append((bool(delays), min(delays) if delays else None, inj.severity))

    ok = True
    print(f"\n{'kind':32} {'injected':>8} {'detected':>8} {'max delay':>10}  severity")
    for kind in sorted(per_kind):
        rows = per_kind[kind]
        found = sum(1 for d, _, _ in rows if d)
        delays = [max(0.0, x) for d, x, _ in rows if d and x is not None]
        worst = f"{max(delays):.0f}s" if delays else "-"
        severity = ",".join(sorted({s for _, _, s in rows}))
        print(f"{kind:32} {len(rows):8} {found:8} {worst:>10}  {severity}")
        if found < len(rows):
            ok = False
        if "critical" in severity and delays and max(delays) > CRITICAL_WITHIN:
            ok = False

    false = [line for i, line in enumerate(opened) if i not in matched]
    share = len(false) / len(opened) if opened else 0.0
    print(f"\nopened incidents: {len(opened)}, matching no injected incident: {len(false)}")
    print(f"false incidents per day: {len(false) / max(args.days, 1):.2f}")
    print(f"share of opened incidents that are false: {share:.1%} (target < 5%)")
    print(f"\n{'severity':10} {'opened':>7} {'false':>6} {'false/day':>10} {'false share':>12}")
    critical_share = 0.0
    for sev in SEVERITIES:
        of_sev = [i for i, line in enumerate(opened) if line["incident"].get("severity") == sev]
        if not of_sev:
            continue
        n_false = sum(1 for i in of_sev if i not in matched)
        sev_share = n_false / len(of_sev)
        if sev == "critical":
            critical_share = sev_share
        print(
            f"{sev:10} {len(of_sev):7} {n_false:6} {n_false / max(args.days, 1):10.2f} "
            f"{sev_share:12.1%}"
        )
    print(f"false among critical alerts: {critical_share:.1%} (requirement < 5%)")
    by_source: dict[str, int] = defaultdict(int)
    for line in false:
        by_source[line["incident"].get("rule_id", "?")] += 1
    for rule_id, count in sorted(by_source.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  false from {rule_id}: {count}")
    if args.show_false:
        for line in false:
            inc = line["incident"]
            sample = (inc.get("evidence", {}).get("samples") or [{}])[0].get("data", {})
            print(f"  {line['at']} {inc.get('rule_id')} {inc.get('group')} {sample}")
    ok = ok and share < FALSE_SHARE_TARGET and critical_share < FALSE_SHARE_TARGET
    print("\nRESULT:", "all targets met" if ok else "targets NOT met")
    print(f"(data and incident log in {workdir})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
