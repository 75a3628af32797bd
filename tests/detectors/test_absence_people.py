"""The absence model's bound on the people an hour must hold before its silence counts, over
teams of any shape: the bound changes nothing where it is off or where every busy hour holds
enough people, and an hour carried by fewer people than it asks is never a silence."""

from __future__ import annotations

import pickle
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.absence import Absence, AbsenceParams
from tests.detectors.test_absence_evidence_properties import STEP, shapes, team_history


def silence_scores(m: Absence, t: float, windows: int) -> list[float]:
    """The model's scores over a silence of `windows` windows from t, learned as they come."""
    out = []
    for k in range(windows):
        out.append(m.score_one(0.0, t + k * STEP))
        m.learn_one(0.0, t + k * STEP)
    return out


def history(m: Absence, shape: dict, days: int, seed: int, people=lambda x: x) -> float:
    """`team_history` (1 to `size` people in a busy window), each busy window's people
    mapped through `people`: the same windows active, whatever the mapping."""
    return team_history(_Mapped(m, people), random.Random(seed), shape, days)


class _Mapped:
    """Passes a team's windows to the model, a busy window's value mapped."""

    def __init__(self, m: Absence, people) -> None:
        self.m, self.people = m, people

    def learn_one(self, x: float, t: float) -> None:
        self.m.learn_one(float(self.people(x)) if x > 0.0 else 0.0, t)


PARAMS = {"surprise": 9.0, "heterogeneity": 7.0}


@settings(max_examples=15, deadline=None)
@given(shape=shapes, days=st.integers(3, 9), start=st.integers(0, 287), seed=st.integers(0, 99))
def test_with_the_bound_off_only_whether_a_window_was_active_matters(shape, days, start, seed):
    """Counting events or people, or any number of them, scores a silence alike."""
    by_people = Absence(AbsenceParams(**PARAMS))
    by_events = Absence(AbsenceParams(**PARAMS))
    t = history(by_people, shape, days, seed)
    history(by_events, shape, days, seed, people=lambda x: 50.0 * x)  # events, not people
    t += start * STEP
    assert silence_scores(by_people, t, 48) == silence_scores(by_events, t, 48)


@settings(max_examples=15, deadline=None)
@given(shape=shapes, days=st.integers(3, 9), start=st.integers(0, 287), seed=st.integers(0, 99))
def test_hours_that_hold_enough_people_are_judged_as_without_the_bound(shape, days, start, seed):
    """A busy hour (active in half its windows or more) whose active windows hold four people
    or more holds two a window on average: a bound of 1.5 leaves it as it was."""
    bounded = Absence(AbsenceParams(**PARAMS, min_people=1.5))
    unbounded = Absence(AbsenceParams(**PARAMS))
    t = history(bounded, shape, days, seed, people=lambda x: x + 3.0)
    history(unbounded, shape, days, seed, people=lambda x: x + 3.0)
    t += start * STEP
    assert silence_scores(bounded, t, 48) == silence_scores(unbounded, t, 48)


@settings(max_examples=15, deadline=None)
@given(shape=shapes, days=st.integers(3, 9), start=st.integers(0, 287), seed=st.integers(0, 99))
def test_a_team_carried_by_fewer_people_than_the_bound_is_never_silent(shape, days, start, seed):
    """One person a window at most: no hour reaches a bound above one, however long the
    silence."""
    m = Absence(AbsenceParams(**PARAMS, min_people=1.2))
    t = history(m, shape, days, seed, people=lambda x: 1.0) + start * STEP
    assert max(silence_scores(m, t, 288)) == 0.0


def test_a_busy_hour_of_one_person_alerts_without_the_bound_and_not_with_it():
    """The bound is what keeps it quiet: one person busy every working hour, then silent for
    a working day, is a silence to the model without the bound."""
    shape = {"offset": 0.0, "begin": 8.0, "end": 18.0, "pause": 12.0, "pause_hours": 1.0}
    solo = {**shape, "busy": 0.95, "size": 1}
    scores = {}
    for bound in (0.0, 1.2):
        m = Absence(AbsenceParams(**PARAMS, min_people=bound))
        t = history(m, solo, 9, seed=4)  # ends on a Tuesday, at midnight
        scores[bound] = max(silence_scores(m, t + 9 * 12 * STEP, 8 * 12))  # from 09:00
    assert scores[0.0] > 0.5 and scores[1.2] == 0.0


def test_a_model_saved_before_it_counted_people_judges_its_hours_as_before():
    """Its active windows are taken to have held twice the bound's people: a snapshot from
    before people were counted neither goes blind nor alerts less once the bound is set."""
    shape = {"offset": 0.0, "begin": 8.0, "end": 18.0, "pause": 12.0, "pause_hours": 1.0}
    m = Absence(AbsenceParams(**PARAMS, min_people=2.0))
    t = history(m, {**shape, "busy": 0.9, "size": 1}, 9, seed=2)
    cells, stats, p = m.__getstate__()
    old, unbounded = Absence.__new__(Absence), Absence.__new__(Absence)
    old.__setstate__((cells[: 4 * 168], stats, p))  # saved with four sums per hour
    unbounded.__setstate__((cells[: 4 * 168], stats, AbsenceParams(**PARAMS)))
    t += 9 * 12 * STEP
    scores = silence_scores(pickle.loads(pickle.dumps(old)), t, 96)
    assert scores == silence_scores(unbounded, t, 96) and max(scores) > 0.5
