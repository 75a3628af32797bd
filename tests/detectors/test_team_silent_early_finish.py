"""A team whose day ends at 17:00 is not paged when its day ends, nor when one of its first
days ends hours early (a few of its people out), replayed as a user would: a team seven hours
west of UTC, first seen on a Wednesday, whose first Monday ends at 14:00 instead of 17:00. A
silence of the same length in its working hours the day after is still raised.

The early finish is a silence until the team's next morning: judged against an end of day
known from two days, to within the hour's spread assumed before days have shown their own, it
was raised as the team having gone silent (about 12 nats where 9 alert; now about 7)."""

from __future__ import annotations

import pytest

from tests.detectors.test_team_silent_across_pauses import Team, silent_teams

# Days from the first Wednesday: 5 is its first Monday, 7 the Wednesday after.
EARLY_FINISH_DAY, SILENCE_DAY = 5, 7
TERN = Team(
    "tern",
    6,
    -7.0,
    end=17.0,
    breaks=(5.0, 45.0),
    # 14:00 to 17:00 on its first Monday: the day ends three hours early. 10:00 to 13:00
    # on the Wednesday after: silent in the middle of its morning.
    silences=((EARLY_FINISH_DAY, 14.0, 3.0), (SILENCE_DAY, 10.0, 3.0)),
)


@pytest.fixture(scope="module")
def opened(tmp_path_factory) -> list[float]:
    silent = silent_teams(tmp_path_factory.mktemp("early-finish"), [TERN], seed=5)
    return [at for at, name in silent if name == TERN.name]


def test_an_early_finish_among_the_first_days_and_the_usual_end_of_day_page_nobody(opened):
    before_silence = TERN.utc(SILENCE_DAY, 10.0)
    assert [at for at in opened if at < before_silence] == []
    # nor at 17:30 on any day: the day ending where it usually does
    for day in range(10):
        assert not any(TERN.utc(day, 17.0) <= at <= TERN.utc(day, 18.0) for at in opened)


def test_a_morning_silence_on_a_later_day_is_still_raised_while_it_lasts(opened):
    assert len(opened) == 1
    assert TERN.utc(SILENCE_DAY, 10.0) < opened[0] < TERN.utc(SILENCE_DAY, 13.0)
