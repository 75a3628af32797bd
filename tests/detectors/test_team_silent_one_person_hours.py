"""Hours of a team's day that one person carries alone are not hours at which the team is
expected to be busy, replayed as shipped: the team's evening owl stopping early on a day is
that person's evening off, not the team going silent; the whole team going silent in the
middle of its day is still raised.

The team: six people at work 09:00-18:00 an hour east of UTC and, among them, one who
works on alone until 22:00 in sessions with short breaks, so the team's evening is busy in
most of its windows, but with one person in each."""

from __future__ import annotations

import pytest

from tests.detectors.test_team_silent_across_pauses import Team, events
from tests.replay_cli import replay_default_detector

OWL_OFF = 7  # days from the first Wednesday: the second Friday, the owl stops at 18:00
SILENT = (8, 10.0, 4.0)  # the next Monday, all of the team silent from 10:00 for four hours
DAYTIME = Team("lark", 5, 1.0, silences=(SILENT,))
OWL = Team("owl", 1, 1.0, end=22.0, breaks=(2.0, 6.0), silences=((OWL_OFF, 18.0, 4.0), SILENT))


def team_events() -> list[dict]:
    """The daytime people's calls and the owl's, all of them of team `lark`."""
    out = events([DAYTIME], seed=5) + [{**e, "team": "lark"} for e in events([OWL], seed=6)]
    return sorted(out, key=lambda e: e["time"])


@pytest.fixture(scope="module")
def opened(tmp_path_factory) -> list[float]:
    tmp = tmp_path_factory.mktemp("owl")
    return [at for at, _ in replay_default_detector(tmp, "team-silent", team_events())]


def test_the_owl_stopping_early_is_not_the_team_going_silent(opened):
    evening = (DAYTIME.utc(OWL_OFF, 18.0), DAYTIME.utc(OWL_OFF + 1, 0.0))
    assert [at for at in opened if evening[0] <= at < evening[1]] == []


def test_the_whole_team_going_silent_in_its_day_is_raised_while_it_lasts(opened):
    day, hour, hours = SILENT
    assert [at for at in opened if DAYTIME.utc(day, hour) < at < DAYTIME.utc(day, hour + hours)]
