"""A model-region's errors are judged by how many teams see them: one team's outbreak, however
many of its people it stops, is that team's burst; several teams failing at once is the
model-region's problem."""

from __future__ import annotations

import random

from detectors import DetectorsConfig, DetectorSet, Signal

MONDAY = 1793577600.0  # 2026-11-02T00:00:00Z
HOUR = 3600.0
DETECTOR = "failing-teams-per-model-region"
TEAMS = {f"team-{k}": [f"p{k}-{i}@example.org" for i in range(3 + 4 * k)] for k in range(6)}


def signals(seed: int, failing_teams: list[str]) -> list[Signal]:
    """Two days of calls from six teams with a rare stray error; on the second day from 14:00
    for half an hour, every call of `failing_teams` fails."""
    config = DetectorsConfig()
    config.detectors = [d for d in config.detectors if d.id == DETECTOR]
    ds = DetectorSet.from_config(config)
    state = ds.new_state(DETECTOR)
    rng = random.Random(seed)
    outbreak = MONDAY + 86400 + 14 * HOUR
    out: list[Signal] = []
    for minute in range(2 * 24 * 60):
        t = MONDAY + minute * 60.0
        for team, people in TEAMS.items():
            for person in people:
                if rng.random() > 0.15:
                    continue
                failing = team in failing_teams and outbreak <= t < outbreak + 1800
                ev = {
                    "time": t + rng.uniform(0, 59), "name": "claude_code.api_request",
                    "status": "error" if failing or rng.random() < 0.002 else "ok",
                    "model": "anthropic.claude-sonnet-4-5", "region": "eu-west-1",
                    "user": person, "team": team,
                }  # fmt: skip
                for obs in ds.route(ev):
                    out += state.update(obs)
        out += state.advance(t)
    return [s for s in out if s.firing]


def test_one_big_teams_outbreak_is_not_the_model_regions_problem():
    for seed in (1, 2):
        assert signals(seed, ["team-5"]) == [], f"seed {seed}: 23 people of one team"


def test_several_teams_failing_at_once_is():
    outbreak = MONDAY + 86400 + 14 * HOUR
    for seed in (3, 4):
        fired = signals(seed, ["team-0", "team-2", "team-4"])
        assert fired, f"seed {seed}: missed"
        assert outbreak < fired[0].time <= outbreak + 1800, f"seed {seed}: at {fired[0].time}"
