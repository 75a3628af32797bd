"""Which signals tell a person's cost surge from their ordinary heavy sessions in its first minutes.

Run: .venv/bin/python bench/cost_spike_signal.py --history PATH... --truth FILE

A surge of spend (an expensive model left running on huge contexts for hours) and an ordinary
long-context session cost about the same in a quarter of an hour; the cost-per-user detector
therefore judges two hours of spend, and pages a surge only once it has outlasted a session.
This measures, before any detector is built on them, whether a second departure in the same
quarter of an hour separates the two:

- spend: the person's spend over the last 15 minutes;
- cost per call: that spend over their calls in it (a pricier model, larger contexts);
- output per call: their output tokens per call in it (longer answers);
- spend & cost per call, spend & output per call: the smaller of the two ratios, so a window
  must depart on both;
- spend CUSUM: sequential evidence, a one-sided CUSUM of the person's log spend per 5-minute
  step in units of their own spread (mean and deviation of their ordinary active steps), less
  an allowance of half a deviation a step, restarting after an idle step. A surge that lasts
  should accumulate faster than a heavy session, if its steps depart further.
- steady surge: the `steady_surge` detector's evidence (nats) after each active step, as the
  detector computes it (`--steady` sets its parameters, e.g. '{"quantile": 0.9}').

Every figure but the CUSUM (itself in the person's units) is a ratio to the person's own largest value over their ordinary windows so far
(windows of 15 minutes ending every 5 minutes; a window needs 3 calls for the per-call
figures), counted once the person has `--settle` ordinary windows: a newcomer is not judged.
Ordinary windows are those that do not come within an hour of any injected incident naming
the person. For each signal it prints the ordinary windows' largest ratio, 99.9th percentile
and how many reach 2 and 3; then, for each injected cost surge, the ratio of the window that
closes 10 to 15 minutes after its start, and the minutes after its start at which the signal
first passes every ordinary window of the history (an oracle's bar: a detector needs margin
above it, so these are the best a bar on that signal could do) and at which it first reaches
`--bar`, a bar fixed for every organisation (what a detector could ship).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.token_drift_signal import call_events
from detectors.steady_surge import SteadySurge, SteadySurgeParams
from engine.timeutil import parse_time

STEP = 300.0  # a window closes every 5 minutes
SPAN = 3  # steps a window covers: 15 minutes
MARGIN = 3600.0  # around an injected incident of the person, no window is ordinary
PER_CALL_MIN = 3  # calls a window needs for the per-call figures
FIRST = (600.0, 900.0)  # the window judged "within 15 minutes" closes in this part of a surge
FOLLOW = 4 * 3600.0  # how long into a surge its first pass is looked for (at most its end)
SURGE_KINDS = ("cost_spike",)
SIGNALS = (
    "spend",
    "cost per call",
    "output per call",
    "spend & cost/call",
    "spend & output/call",
    "spend CUSUM",
    "steady surge",
)
ALLOWANCE = 0.5  # the CUSUM's allowance a step, in the person's deviations
SPREAD_FLOOR = 0.1  # the least deviation of a person's log spend per step
STEADY = SteadySurgeParams()  # the steady-surge detector studied (see `--steady`)

Call = tuple[float, float, float]  # time, cost, output tokens


@dataclass
class Person:
    """One person's calls by step, and the largest figures of their ordinary windows so far."""

    steps: dict[int, list[Call]] = field(default_factory=lambda: defaultdict(list))
    top: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    ordinary: int = 0  # ordinary windows seen
    logs: tuple[int, float, float] = (0, 0.0, 0.0)  # active ordinary steps: count, mean, M2
    cusum: float = 0.0
    steady: SteadySurge = field(default_factory=lambda: SteadySurge(STEADY))

    def step(self, spend: float) -> float:
        """The CUSUM after a step of `spend` (0: an idle step, which restarts it)."""
        n, mean, m2 = self.logs
        if spend <= 0.0 or n < 2:
            self.cusum = 0.0
            return 0.0
        spread = max(SPREAD_FLOOR, math.sqrt(m2 / (n - 1)))
        self.cusum = max(0.0, self.cusum + (math.log(spend) - mean) / spread - ALLOWANCE)
        return self.cusum

    def learn_step(self, spend: float) -> None:
        """Welford's update of the mean and spread of the person's log spend per active step."""
        if spend <= 0.0:
            return
        n, mean, m2 = self.logs
        x = math.log(spend)
        n += 1
        delta = x - mean
        mean += delta / n
        self.logs = (n, mean, m2 + delta * (x - mean))


def figures(calls: list[Call]) -> dict[str, float]:
    """A window's spend, and its cost and output tokens per call (0 with too few calls)."""
    spend = sum(c for _, c, _ in calls)
    enough = len(calls) >= PER_CALL_MIN
    return {
        "spend": spend,
        "cost per call": spend / len(calls) if enough else 0.0,
        "output per call": sum(o for _, _, o in calls) / len(calls) if enough else 0.0,
    }


def ratios(now: dict[str, float], top: dict[str, float]) -> dict[str, float]:
    """Each figure over the person's own largest ordinary one, and the two joint departures."""
    r = {
        k: (v / top[k] if top[k] > 0.0 else (math.inf if v > 0.0 else 0.0)) for k, v in now.items()
    }
    r["spend & cost/call"] = min(r["spend"], r["cost per call"])
    r["spend & output/call"] = min(r["spend"], r["output per call"])
    return r


def steady(model: SteadySurge, spend: float, t: float) -> float:
    """The steady-surge detector's evidence after a step (nats; 0 while it settles), which
    learns every active step as the detector does, surges included."""
    if spend <= 0.0:
        return 0.0
    evidence = model.judged(spend, None, None, t, 0.0)[1] if model.is_warm(t, 0.0) else 0.0
    model.learn_one(spend, t)
    return evidence


def load(paths: list[str], truth: Path) -> tuple[dict[str, Person], list[dict], dict]:
    people: dict[str, Person] = defaultdict(Person)
    for e in call_events(paths):
        user = e.get("user")
        if not isinstance(user, str):
            continue
        cost, out = float(e.get("cost") or 0.0), float(e.get("tokens_out") or 0.0)
        people[user].steps[int(e["time"] // STEP)].append((e["time"], cost, out))
    injected = [json.loads(line) for line in truth.read_text().splitlines() if line.strip()]
    near: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for inj in injected:
        user = inj.get("group", {}).get("user")
        if user:
            near[user].append((parse_time(inj["start"]) - MARGIN, parse_time(inj["end"]) + MARGIN))
    surges = [i for i in injected if i["kind"] in SURGE_KINDS and i.get("group", {}).get("user")]
    return people, surges, near


def walk(people: dict[str, Person], surges: list[dict], near: dict, settle: int):
    """Every window of every person in time order: the ordinary windows' ratios, and each
    surge's windows (from its start to its end, at most FOLLOW) with their time since the start;
    a surge whose person was not settled when it began is a newcomer's and is not judged."""
    starts = {s["group"]["user"]: parse_time(s["start"]) for s in surges}
    ends = {
        s["group"]["user"]: min(parse_time(s["end"]), starts[s["group"]["user"]] + FOLLOW)
        for s in surges
    }
    judged: dict[str, bool] = {}  # a surge's person: settled when it began
    ordinary: dict[str, list[float]] = {k: [] for k in SIGNALS}
    during: dict[str, list[tuple[float, dict[str, float]]]] = defaultdict(list)
    closes = sorted({(k + j, u) for u, p in people.items() for k in p.steps for j in range(SPAN)})
    for k, user in closes:
        person = people[user]
        calls = [c for i in range(k - SPAN + 1, k + 1) for c in person.steps.get(i, ())]
        if not calls:
            continue
        end = (k + 1) * STEP
        now = figures(calls)
        spend = sum(c for _, c, _ in person.steps.get(k, ()))
        seen = {**ratios(now, person.top), "spend CUSUM": person.step(spend)}
        seen["steady surge"] = steady(person.steady, spend, k * STEP)
        start = starts.get(user)
        if start is not None and start < end <= ends[user]:
            if judged.setdefault(user, person.ordinary >= settle):
                during[user].append((end - start, seen))
            continue
        if any(a <= end and end - SPAN * STEP <= b for a, b in near.get(user, ())):
            continue
        if person.ordinary >= settle:
            for name, value in seen.items():
                ordinary[name].append(value)
        person.ordinary += 1
        person.learn_step(spend)
        for name, value in now.items():
            person.top[name] = max(person.top[name], value)
    return ordinary, during, starts


def minutes(seconds: float | None) -> str:
    return "never" if seconds is None else str(round(seconds / 60))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", nargs="+", required=True)
    parser.add_argument("--truth", required=True, type=Path)
    parser.add_argument("--settle", type=int, default=20, help="ordinary windows before judging")
    parser.add_argument("--bar", type=float, default=2.5, help="a fixed bar on every ratio")
    parser.add_argument("--steady", default="{}",
                        help='the steady-surge params, as JSON (e.g. {"quantile": 0.9})')  # fmt: skip
    args = parser.parse_args(argv)
    global STEADY
    STEADY = SteadySurgeParams(**json.loads(args.steady))
    people, surges, near = load(args.history, args.truth)
    ordinary, during, starts = walk(people, surges, near, args.settle)
    print(f"{len(people)} people, {sum(map(len, ordinary.values())) // len(SIGNALS)} ordinary "
          f"windows judged, {len(surges)} cost surges ({len(during)} of settled people)")  # fmt: skip
    print(
        f"{'signal':20} {'ord max':>8} {'p99.9':>6} {'>=2':>5} {'>=3':>4} {'>=bar':>5}  surges: "
        "ratio 10-15 min in / minutes to pass every ordinary window / to reach the bar"
    )
    for name in SIGNALS:
        vals = sorted(v for v in ordinary[name] if v != math.inf)
        top = vals[-1] if vals else 0.0
        p999 = vals[min(len(vals) - 1, int(0.999 * len(vals)))] if vals else 0.0
        cells = []
        for user in starts:
            points = during.get(user)
            if not points:
                cells.append("newcomer")
                continue
            early = [r[name] for age, r in points if FIRST[0] <= age <= FIRST[1]]
            passed = next((age for age, r in points if r[name] > top), None)
            barred = next((age for age, r in points if r[name] >= args.bar), None)
            first = f"{max(early):.2f}" if early else "-"
            cells.append(f"{first}/{minutes(passed)}/{minutes(barred)}")
        print(f"{name:20} {top:8.2f} {p999:6.2f} {sum(v >= 2 for v in vals):5d} "
              f"{sum(v >= 3 for v in vals):4d} {sum(v >= args.bar for v in vals):5d}  "
              f"{' '.join(cells)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
