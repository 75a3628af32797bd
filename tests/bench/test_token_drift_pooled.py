"""The pooled token drift bench: a person new to the organisation whose prompts creep is found
against everyone's calls at the same place in a session, ordinary growing and compacted
sessions alarm nobody, and it reads a simulated history end to end."""

from __future__ import annotations

import random
from pathlib import Path

from bench.token_drift_pooled import Call, Params, alarms, main, score
from engine.timeutil import parse_time
from replay.simulator.simulate import SimulationSpec, simulate

MONDAY = parse_time("2026-03-02T00:00:00Z")
HOUR, DAY = 3600.0, 86400.0
OFFSET = 9.0  # the team works in Tokyo (UTC+9)


def organisation(seed: int, newcomer_factor=None) -> list[Call]:
    """Twelve people of team kaiun over five days, working 9:00-18:00 in Tokyo in sessions of
    2 to 80 calls whose context grows by a few thousand tokens a call from a first call of
    their own size and is compacted to a tenth past 120-190k; from the fourth day a newcomer
    works too, their calls scaled by `newcomer_factor(t)`."""
    rng, calls = random.Random(seed), []
    people = [(f"p{i}@kaiun.jp", rng.uniform(8_000.0, 20_000.0), 0) for i in range(12)]
    people.append(("new@kaiun.jp", 12_000.0, 3))
    for user, first, from_day in people:
        for day in range(from_day, 5):
            t = MONDAY + day * DAY + (9.0 - OFFSET) * HOUR + rng.uniform(0.0, 1800.0)
            while t < MONDAY + day * DAY + (18.0 - OFFSET) * HOUR:
                session, context = f"{user}-{t:.0f}", first * rng.lognormvariate(0.0, 0.3)
                compact_at = rng.uniform(120_000.0, 190_000.0)
                for _ in range(rng.randint(2, 80)):
                    scale = (
                        newcomer_factor(t) if newcomer_factor and user == "new@kaiun.jp" else 1.0
                    )
                    calls.append(Call(t, "kaiun", user, session, context * scale))
                    context += rng.uniform(1_000.0, 8_000.0)
                    if context > compact_at:
                        context *= 0.1
                    t += rng.uniform(20.0, 150.0)
                t += rng.uniform(300.0, 3600.0)
    return sorted(calls, key=lambda c: c.time)


def test_ordinary_sessions_that_grow_and_compact_alarm_nobody():
    for seed in range(3):
        assert alarms(organisation(seed), Params()) == []


def test_a_newcomers_prompts_tripling_is_found_within_the_creep():
    start = MONDAY + 3 * DAY + (11.0 - OFFSET) * HOUR  # 11:00 in Tokyo on the newcomer's first day

    def factor(t: float) -> float:  # three hours up to three times, then so until 18:00
        if t > start + 7 * HOUR:
            return 1.0
        return 1.0 + 2.0 * min(1.0, max(0.0, (t - start) / (3 * HOUR)))

    end = "2026-03-05T09:00:00Z"  # 18:00 in Tokyo
    truth = [{"kind": "token_drift", "start": "2026-03-05T02:00:00Z", "end": end,
              "group": {"user": "new@kaiun.jp"}}]  # fmt: skip
    assert parse_time(truth[0]["start"]) == start
    for seed in range(3):
        found = score(organisation(seed, factor), truth, Params())
        assert found.delays[0] is not None and 0.0 <= found.delays[0] <= 7 * HOUR
        assert found.false == []


def test_reads_a_simulated_history(tmp_path: Path, capsys):
    history, truth = tmp_path / "history.jsonl", tmp_path / "truth.jsonl"
    simulate(SimulationSpec(days=2, users=30, seed=4, claude_code_logs=True), history, truth)
    assert main(["--history", str(history), "--truth", str(truth), "--k", "1.5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "k 1.5, h 20: found" in out[0] and int(out[0].split()[0].replace(",", "")) > 0
