"""The token drift choices bench: a team's model mix moves its median, not its medians per
model; a creep of answers' length is found by the output tokens on either key; and it reads a
simulated history end to end."""

from __future__ import annotations

import math
import random
from pathlib import Path

from bench.token_drift_choices import KEYS, TOKENS, WINDOW, Call, main, replay
from replay.simulator.simulate import SimulationSpec, simulate

DAY = 96  # windows


def _calls(windows: int, seed: int, switch_from: int | None = None, creep_from: int | None = None):
    """Ten calls a window of team ledger on a short-answer model, input tokens a hundredfold
    apart; from `switch_from` half of them go to a model writing ten times longer answers; from
    `creep_from` every answer lengthens by 4% a window."""
    rng = random.Random(seed)
    calls = []
    for w in range(windows):
        growth = 1.0 if creep_from is None or w < creep_from else 1.04 ** (w - creep_from)
        for i in range(10):
            long_answers = switch_from is not None and w >= switch_from and i % 2 == 0
            model, out = ("opus", 3000.0) if long_answers else ("haiku", 300.0)
            calls.append(
                Call(
                    w * WINDOW + i,
                    "ledger",
                    model,
                    math.exp(rng.uniform(math.log(200), math.log(20000))),
                    out * growth * math.exp(rng.gauss(0.0, 0.3)),
                )
            )
    return calls


def test_a_change_of_model_mix_alarms_on_the_team_not_on_the_team_on_each_model():
    calls = _calls(3 * DAY, seed=5, switch_from=2 * DAY)
    team = replay(calls, [], TOKENS["out"], KEYS["team"], 16.0)
    per_model = replay(calls, [], TOKENS["out"], KEYS["team x model"], 16.0)
    assert team.false  # the median of the team's answers jumps tenfold
    assert not per_model.false  # each model's answers are as long as ever
    assert per_model.delays == []


def test_a_creep_of_answers_is_found_by_output_tokens_whatever_the_inputs():
    injected = [("ledger", 2 * DAY * WINDOW, (2 * DAY + 30) * WINDOW)]
    calls = _calls(2 * DAY + 40, seed=11, creep_from=2 * DAY)
    for key in KEYS.values():
        found = replay(calls, injected, TOKENS["out"], key, 16.0)
        assert found.delays[0] is not None and 0 < found.delays[0] < 30 * WINDOW
        assert not found.false
    quiet = replay(_calls(2 * DAY + 40, seed=11), [], TOKENS["out"], KEYS["team"], 16.0)
    assert not quiet.false


def test_reads_a_simulated_history(tmp_path: Path, capsys):
    history, truth = tmp_path / "history.jsonl", tmp_path / "truth.jsonl"
    simulate(SimulationSpec(days=2, users=30, seed=4, claude_code_logs=True), history, truth)
    assert main(["--history", str(history), "--truth", str(truth), "--threshold", "13"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["choice", "found", "delays", "(s)", "false"]
    names = [line[:30].strip() for line in lines[1:]]
    assert names == [f"{t} by {k} at 13" for t in TOKENS for k in KEYS]
