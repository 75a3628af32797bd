"""A team silent for a whole working day while the rest of the organisation works is raised,
small teams included; a holiday, when every team is silent, is not: a silence the organisation
shares is not one team's. Replayed as a user would, with the default `team-silent` alone.

The organisation: three teams in three time zones (five hours west of UTC, UTC, two hours
east), of three, five and eight people, first seen on a Wednesday. The small team works in
sparse sessions: most of its five-minute windows are empty, yet it is at work every hour."""

from __future__ import annotations

import pytest

from tests.detectors.test_team_silent_across_pauses import HOUR, Team, events
from tests.replay_cli import replay_default_detector

# Days from the first Wednesday (0): 5 is the next Monday, 7 the second Wednesday.
HOLIDAY = 7  # every team off
SILENT_DAY = 8  # the Thursday after: nothing from the small team, the others work
WHOLE_DAY = (0.0, 24.0)


def teams(silent_day: int | None) -> list[Team]:
    """The organisation, every team off on HOLIDAY, the small one also on `silent_day`."""
    holiday = (HOLIDAY, *WHOLE_DAY)
    trio = ((silent_day, *WHOLE_DAY),) if silent_day is not None else ()
    return [
        Team("trio", 3, -5.0, lunch=None, breaks=(10.0, 60.0), silences=(holiday, *trio)),
        Team("quint", 5, 0.0, breaks=(5.0, 45.0), silences=(holiday,)),
        Team("octet", 8, 2.0, breaks=(2.0, 20.0), silences=(holiday,)),
    ]


@pytest.fixture(scope="module")
def opened(tmp_path_factory) -> list[tuple[float, str]]:
    found = replay_default_detector(
        tmp_path_factory.mktemp("peers"), "team-silent", events(teams(SILENT_DAY), seed=5)
    )
    return [(at, i["group"]["team"]) for at, i in found]


def test_a_holiday_of_the_whole_organisation_raises_nothing(opened):
    on_holiday = [(at, team) for at, team in opened if _day(team, at) == HOLIDAY]
    assert on_holiday == []


def test_a_small_team_silent_for_a_working_day_while_the_others_work_is_raised_that_day(
    opened,
):
    trio = teams(SILENT_DAY)[0]
    raised = [at for at, team in opened if team == "trio" and _day("trio", at) == SILENT_DAY]
    assert len(raised) == 1
    assert trio.utc(SILENT_DAY, trio.begin) < raised[0] < trio.utc(SILENT_DAY, trio.end)


def test_nothing_else_is_raised(opened):
    assert [(at, t) for at, t in opened if (t, _day(t, at)) != ("trio", SILENT_DAY)] == []


def _day(team: str, at: float) -> int:
    """The day (from the first Wednesday) of the team's local calendar holding `at`."""
    (found,) = [t for t in teams(None) if t.name == team]
    return int((at - found.utc(0, 0.0)) // (24 * HOUR))
