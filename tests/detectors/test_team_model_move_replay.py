"""A team moved to Opus: the default model-move-per-team entry, alone, replayed on the week of
tests/detectors/test_team_call_cost_replay.py (three teams of twelve, eight and four people; a
quarter of them mostly on Opus, the others on Opus one session in ten; one person of the small
team on Opus alone every evening). On Wednesday at 14:00 the middle team moves to Opus for
ninety minutes: one incident, within a quarter of an hour. The same week without the move
opens none once the first day is learned, though two or three people of a team are on Opus
at once many times a day.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.detectors import test_team_call_cost_replay as org
from tests.replay_cli import replay_default_detector

DETECTOR = "model-move-per-team"


@pytest.mark.parametrize("seed", [1, 2])
def test_a_team_moving_to_opus_opens_one_incident_within_a_quarter_hour(
    tmp_path: Path, seed: int
) -> None:
    opened = replay_default_detector(tmp_path, DETECTOR, org.week(seed))
    settled = [(t, i) for t, i in opened if t >= org.MONDAY + org.DAY]
    assert [i["group"] for _, i in settled] == [{"team": org.SURGING}], opened
    [(at, incident)] = settled
    assert org.SURGE_START < at <= org.SURGE_START + 15 * org.MINUTE
    [sample] = incident["evidence"]["samples"]
    assert sample["data"]["value"] > 2.0 * sample["data"]["expected"]


@pytest.mark.parametrize("seed", [1, 2])
def test_the_same_week_without_the_move_opens_nothing(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(org, "SURGING", "no team")
    opened = replay_default_detector(tmp_path, DETECTOR, org.week(seed))
    assert [i for t, i in opened if t >= org.MONDAY + org.DAY] == []
