"""The quiet period shared by the likelihood and the ensemble: the largest recent score in a
few numbers, and the damping of scores that do not pass it."""

from __future__ import annotations

import doctest
import math
import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

import detectors.quiet_period
from detectors.quiet_period import BLOCKS, QuietPeriod, damped, from_saved


def test_the_examples_in_the_docstrings_hold():
    result = doctest.testmod(detectors.quiet_period)
    assert result.attempted > 0 and result.failed == 0


def test_a_score_is_forgotten_once_its_block_has_left_the_period():
    q = QuietPeriod(16)  # blocks of 2 points, 7 whole blocks kept
    q.remember(0.8)
    for _ in range(13):
        q.remember(0.1)
    assert q.bar() == 0.8  # 14 points: its block is still one of the seven
    for _ in range(2):
        q.remember(0.1)
    assert q.bar() == 0.1


def test_without_a_quiet_period_everything_counts():
    q = QuietPeriod(0)
    q.remember(5.0)
    assert q.bar() == -math.inf
    assert damped(0.01, q.bar(), 0.05, 0.25) == 0.01


def test_a_damped_score_is_capped_before_it_is_damped():
    assert damped(7.0, 0.0, 0.05, 0.25) == 1.0  # passes the bar: counts in full, capped
    assert damped(7.0, 9.0, 0.05, 0.25) == 0.25  # under the bar: a quarter of the cap
    assert damped(0.4, 0.38, 0.05, 0.25) == 0.1  # does not pass by the margin


def test_a_snapshot_that_kept_the_period_in_the_models_fields_is_read():
    saved = {"p": None, "blocks": [0.3, 0.9], "block": 0.2, "filled": 3, "mean": 1.0}
    q = from_saved(saved, 64)
    assert (q.bar(), q.filled, q.length) == (0.9, 3, 64)
    assert saved == {"p": None, "mean": 1.0}


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=80),
    st.lists(st.floats(min_value=0.0, max_value=50.0), max_size=400),
)
def test_the_bar_is_the_largest_score_of_the_last_whole_blocks_and_the_state_stays_small(
    length, scores
):
    q = QuietPeriod(length)
    for s in scores:
        q.remember(s)
    size = -(-length // BLOCKS)
    kept = q.filled + size * len(q.blocks)
    assert len(q.blocks) < BLOCKS and q.filled < size
    assert kept <= length + size
    assert q.bar() == max([0.0, *scores[len(scores) - kept :]])
    twin = pickle.loads(pickle.dumps(q))
    assert (twin.bar(), twin.filled, twin.length) == (q.bar(), q.filled, q.length)
    assert len(pickle.dumps(q)) < 200 + 10 * BLOCKS


def test_a_period_shorter_than_the_blocks_keeps_exactly_its_length():
    q = QuietPeriod(3)
    for s in [0.9, 0.1, 0.2]:
        q.remember(s)
    assert q.bar() == 0.9
    q.remember(0.3)
    assert q.bar() == 0.3
