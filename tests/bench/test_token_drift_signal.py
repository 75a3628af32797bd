"""The token drift signal bench: who is at work moves the team median, not the mix-adjusted
signal; a drift moves both; and it reads a simulated history end to end."""

from __future__ import annotations

import math
from pathlib import Path

from bench.token_drift_signal import WINDOW, Signals, main
from replay.simulator.simulate import SimulationSpec, simulate

HEAVY, LIGHT = 40_000.0, 2_000.0  # tokens per call of a long-context and a short-context user


def _calls(w: int, users: list[tuple[str, float]], factor: float = 1.0):
    """Six calls per user in window w, each a little different (so no residual is exactly 0)."""
    return [
        (w * WINDOW + i, "ledger", user, tokens * factor * (1.0 + 0.01 * (i % 3 - 1)))
        for user, tokens in users
        for i in range(6)
    ]


def _run(windows: int, injected, drift_from: int | None = None):
    signals = Signals(injected)
    for w in range(windows):
        # the heavy user works every other window: the team's median jumps with who is in
        users = [("light@x", LIGHT), ("heavy@x", HEAVY)] if w % 2 else [("light@x", LIGHT)]
        factor = 1.0 if drift_from is None or w < drift_from else 1.0 + 0.05 * (w - drift_from)
        signals.window(w, _calls(w, users, factor))
    return signals.figures()


def test_who_is_at_work_moves_the_team_median_not_the_mix_adjusted_signal():
    figures = _run(200, injected=[])
    team_noise, mix_noise = figures["team median"][0], figures["mix-adjusted"][0]
    assert team_noise > 0.5  # the median swings by a log ratio of the two users' levels
    assert mix_noise < 0.05
    assert math.isnan(figures["mix-adjusted"][1])  # no drift, no effect


def test_a_drift_moves_the_mix_adjusted_signal_by_its_size():
    figures = _run(190, injected=[("ledger", 150, 190)], drift_from=150)
    _noise, effect, ratio = figures["mix-adjusted"]
    # the second quarter of the drift: windows 160-170, factor 1.5 to 2.0 (log 0.4-0.7)
    assert 0.35 < effect < 0.75
    assert ratio > 10
    # the team median moves too, but by about its own noise (who is at work)
    assert figures["team median"][1] > 0.2
    assert figures["team median"][2] < ratio / 5


def test_reads_a_simulated_history(tmp_path: Path, capsys):
    history, truth = tmp_path / "history.jsonl", tmp_path / "truth.jsonl"
    simulate(SimulationSpec(days=1, users=40, seed=3, claude_code_logs=True), history, truth)
    assert main(["--history", str(history), "--truth", str(truth)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["signal", "noise", "effect", "ratio", "vs", "team", "median"]
    rows = {line[:14].strip(): line[14:].split() for line in lines[1:]}
    assert set(rows) == {"team median", "mix-adjusted"}
    assert all(float(row[0]) > 0 for row in rows.values())  # both signals have noise figures
