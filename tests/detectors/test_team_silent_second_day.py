"""The end of a team's working day on its second day, before any of its days has been seen
whole: a team of twelve five hours west of UTC, first seen on a Wednesday, silent from 10:00 on
the Thursday. Nothing is known of when the team's days start until a day of data has shown it,
so its first day is not seen whole and no end of its working days has been learned by then.
Taken as equally likely in any window left of the day, the end of day explained every silence
of the second day (about 0.5% a window: at most about 5.3 nats, where the default detector
alerts at 9); the hours at which the first day showed the team at work now say where its day
usually ends."""

from __future__ import annotations

from collections import Counter

import pytest

from detectors.absence import Absence, AbsenceParams
from tests.detectors.test_team_silent_across_pauses import Team, events

SECOND_DAY = 1  # days from the first Wednesday
SPROUT = Team("sprout", 12, -5.0, silences=((SECOND_DAY, 10.0, 4.0),))
STEP = 300.0


def model_until(local_hour: float) -> Absence:
    """The team's model, as the default `team-silent` sets it, fed its 5-minute counts from
    its first call up to the window that ends at this local hour of its second day."""
    counts = Counter(int(e["time"] // STEP) for e in events([SPROUT], seed=3))
    model = Absence(AbsenceParams(surprise=9.0, heterogeneity=7.0, step=STEP))
    end = SPROUT.utc(SECOND_DAY, local_hour)
    for i in range(min(counts), int(end // STEP)):
        model.learn_one(float(counts[i]), i * STEP + STEP)
    return model


def day_over(local_hour: float) -> float:
    """P(the team's second day ended with the window before this local hour)."""
    at = SPROUT.utc(SECOND_DAY, local_hour)
    return model_until(local_hour).describe(0.0, at)["day_over_probability"]


def test_no_day_of_the_team_has_been_seen_whole_on_its_second_morning():
    model = model_until(10.0)
    assert model.stats.end_weight[0] == 0.0


@pytest.mark.parametrize("hour", [10.0, 11.0, 13.5])
def test_a_silence_starting_hours_before_the_day_usually_ends_is_not_its_end(hour):
    """Below 1e-4 a window (over 9 nats): the silence itself, not the end, must explain it."""
    assert day_over(hour) < 1e-4


@pytest.mark.parametrize("hour", [17.0, 17.5])
def test_a_silence_where_the_first_day_ended_is_plausibly_the_end_of_day(hour):
    assert day_over(hour) > 0.01
