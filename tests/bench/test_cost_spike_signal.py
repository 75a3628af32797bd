"""The cost surge signal bench: a person's ordinary heavy sessions and long answers each depart
on one figure only, a surge of long, expensive calls on both, and its CUSUM climbs every step;
a newcomer's surge is not judged; and it reads a simulated history end to end."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

from bench.cost_spike_signal import SIGNALS, STEP, Person, main, walk
from replay.simulator.simulate import SimulationSpec, simulate

HOUR = 3600.0
START = 1_762_000_000.0 - 1_762_000_000.0 % STEP  # on a window's edge


def _work(person: Person, start: float, minutes: int, per_minute: float, cost: float, out: float):
    """Calls from `start` for `minutes`: `per_minute` of them a minute, each at `cost` and `out`
    output tokens (a little different each, so no two windows are equal)."""
    every = 60.0 / per_minute
    for i in range(int(minutes * per_minute)):
        t = start + i * every
        wobble = 1.0 + 0.02 * (i % 5 - 2)
        person.steps[int(t // STEP)].append((t, cost * wobble, out * wobble))


def _history(surge_at: float | None) -> tuple[dict[str, Person], list[dict], dict]:
    """Six days of one person: each day a light hour, a heavy session (three times the spend
    for 30 minutes, answers as usual) and an hour of long answers (three times the output
    tokens of cheap calls); then, at `surge_at`, two hours of long answers at three times
    the heavy session's spend."""
    person = Person()
    for day in range(6):
        base = START + day * 24 * HOUR
        _work(person, base, 60, 1.0, 0.10, 400.0)
        _work(person, base + 2 * HOUR, 30, 1.0, 0.30, 400.0)
        _work(person, base + 4 * HOUR, 60, 1.0, 0.10, 1200.0)
    surges = []
    if surge_at is not None:
        _work(person, surge_at, 120, 1.0, 0.90, 3600.0)
        end = surge_at + 2 * HOUR
        surges = [{"kind": "cost_spike", "group": {"user": "a@x"}, "start": surge_at, "end": end}]
    near = {"a@x": [(s["start"] - HOUR, s["end"] + HOUR) for s in surges]}
    return {"a@x": person}, surges, near


def _iso(history: tuple[dict[str, Person], list[dict], dict]) -> tuple:
    """The same, with the surge's times as truth files write them."""
    people, surges, near = history
    for s in surges:
        for k in ("start", "end"):
            s[k] = datetime.fromtimestamp(s[k], UTC).isoformat().replace("+00:00", "Z")
    return people, surges, near


def test_ordinary_sessions_depart_on_one_figure_a_surge_on_both():
    surge_at = START + 6 * 24 * HOUR
    ordinary, during, _starts = walk(*_iso(_history(surge_at)), settle=20)
    assert set(ordinary) == set(SIGNALS)
    # the first day teaches the person's largest figures; the heavy session and the long
    # answers of the days after reach them again, but neither departs on both at once
    assert max(ordinary["spend"]) < 1.2
    assert max(ordinary["spend & output/call"]) < 1.2
    early = [r for age, r in during["a@x"] if 600.0 <= age <= 900.0]
    assert early, "the surge's window closing 10-15 minutes in is judged"
    # three times the heavy session's rate: twice its spend 10 minutes in, three times at 15
    assert 1.9 < min(r["spend"] for r in early) < max(r["spend"] for r in early) > 2.9
    assert min(r["output per call"] for r in early) > 2.5  # three times the long answers'
    assert min(r["spend & output/call"] for r in early) > 1.9
    assert min(r["cost per call"] for r in early) > 2.5
    # the CUSUM accumulates with every step of the surge, and heavy sessions accumulate too
    cusum = [r["spend CUSUM"] for _age, r in during["a@x"][:6]]
    assert all(a < b for a, b in pairwise(cusum)) and cusum[0] > 0
    assert 0 < max(ordinary["spend CUSUM"]) < cusum[-1]


def test_a_newcomers_surge_is_not_judged():
    surge_at = START + 30 * 60.0  # half an hour into the person's first hour
    people, surges, near = _iso(_history(surge_at))
    _ordinary, during, starts = walk(people, surges, near, settle=20)
    assert list(starts) == ["a@x"]
    assert "a@x" not in during


def test_reads_a_simulated_history(tmp_path: Path, capsys):
    history, truth = tmp_path / "history.jsonl", tmp_path / "truth.jsonl"
    simulate(SimulationSpec(days=3, users=30, seed=3), history, truth)
    surges = [json.loads(line) for line in truth.read_text().splitlines()]
    assert any(s["kind"] == "cost_spike" for s in surges)
    assert main(["--history", str(history), "--truth", str(truth), "--settle", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "1 cost surges (1 of settled people)" in lines[0]
    rows = {line[:20].strip(): line[20:].split() for line in lines[2:]}
    assert set(rows) == set(SIGNALS)
    # the simulated runaway agent passes every ordinary window on spend within minutes
    ratio, passed, barred = rows["spend"][5].split("/")
    assert float(ratio) > 10 and passed != "never" and int(passed) <= 15
    assert barred != "never" and int(barred) <= int(passed)  # the bar (2.5) is lower
