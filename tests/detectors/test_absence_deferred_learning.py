"""A silence does not teach its own hours as idle while it lasts (else a long silence soon
looks like a usual break and its evidence starts again), and a resumption rate learned from
few empty windows is never taken as certain (else a handful of quick resumptions at one hour
turns a short lull there into pages of evidence)."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.absence import Absence, AbsenceParams

WEDNESDAY = 1793750400.0  # 2026-11-04T00:00:00Z: days start mid-week, unlike the simulator's
STEP, HOUR, DAY = 300.0, 3600.0, 86400.0


def busy_team(days: int, rng: random.Random) -> Absence:
    """A team busy 07:00-16:00 UTC on working days, with the odd empty window."""
    m = Absence(AbsenceParams(surprise=9.0, heterogeneity=7.0))
    for d in range(days):
        weekend = (d + 2) % 7 >= 5
        for w in range(288):
            h = w / 12
            busy = not weekend and 7 <= h < 16 and rng.random() < 0.85
            m.learn_one(float(rng.randint(1, 40)) if busy else 0.0, WEDNESDAY + d * DAY + w * STEP)
    return m


def test_a_silence_keeps_its_hours_busy_while_it_lasts_and_teaches_them_once_it_ends():
    rng = random.Random(11)
    m = busy_team(7, rng)  # to the next Tuesday 24:00; then Wednesday 07:00-09:30 busy
    day = WEDNESDAY + 7 * DAY
    for w in range(7 * 12, 9 * 12 + 6):
        m.learn_one(float(rng.randint(1, 40)), day + w * STEP)
    nine = day + 9 * HOUR  # the silence's first hour: learned up to where it is flagged
    share_before = m.describe(0.0, nine)["active_share_at_this_hour"]
    scores = []
    for w in range(9 * 12 + 6, 13 * 12):  # silent 09:30-13:00
        t = day + w * STEP
        scores.append(m.score_one(0.0, t))
        m.learn_one(0.0, t)
        assert m.describe(0.0, nine)["active_share_at_this_hour"] == share_before
    assert max(scores) > 0.5, "the silence alerted"
    first = next(i for i, s in enumerate(scores) if s > 0.5)
    assert first * STEP <= 2.5 * HOUR
    m.learn_one(9.0, day + 13 * HOUR)  # it ends: its hours are learned now, once
    assert m.describe(0.0, nine)["active_share_at_this_hour"] < share_before


def test_a_silence_before_the_days_first_activity_is_learned_as_it_comes():
    """A day with no activity yet may be a day off: its hours are learned as they come."""
    rng = random.Random(3)
    m = busy_team(7, rng)
    day = WEDNESDAY + 7 * DAY
    seven = day + 7 * HOUR  # its first busy hour: learned up to where the silence is flagged
    share = m.describe(0.0, seven)["active_share_at_this_hour"]
    for w in range(0, 7 * 12 + 3):  # nothing at all until 07:15
        m.learn_one(0.0, day + w * STEP)
    assert m.describe(0.0, seven)["active_share_at_this_hour"] < share


@settings(max_examples=40, deadline=None)
@given(
    spells=st.lists(st.tuples(st.integers(1, 30), st.integers(1, 200)), min_size=1, max_size=30),
    first=st.integers(0, 287),
    step=st.sampled_from([60.0, 300.0, 3600.0]),
)
def test_a_resumption_rate_is_never_certain_whatever_the_history(spells, first, step):
    """However many empty windows resumed at an hour, none has not: the hazard stays below 1
    and each silent window adds finite evidence, no more than the estimate's support allows."""
    m = Absence(AbsenceParams(step=step))
    t = WEDNESDAY + first * step
    for silent, busy in spells:  # short silences that always resume, then busy spells
        for k in range(silent + busy):
            m.learn_one(0.0 if k < silent else 2.0, t)
            t += step
    for k in range(int(7 * DAY / step)):
        at = t + k * step
        h = m.hazard(at)
        seen, _, after, _ = m._pooled(at)
        assert 0.0 <= h < 1.0
        # one empty window that did not resume, in a tenth: the most one window can claim
        support = after + seen / max(1.0, HOUR / step)
        assert -math.log1p(-h) <= math.log((support + 0.1) / 0.1) + 1e-9
        assert math.isfinite(m.surprise(0.0, at)) and m.surprise(0.0, at) >= 0.0
