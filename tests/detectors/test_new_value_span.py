"""`span`: a key's news counts towards `min_new` over its windows of the last `span` steps."""

from __future__ import annotations

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.new_value import NewValue, NewValueParams

STEP = 900.0

windows = st.lists(
    st.tuples(st.integers(1, 4), st.frozensets(st.sampled_from("abcdefghij"), max_size=4)),
    min_size=1,
    max_size=25,
)


def run(model: NewValue, points: list[tuple[float, frozenset[str]]]) -> list[float]:
    """What a detector does with each window that has events: judge, score, learn."""
    scores = []
    for t, values in points:
        judged = model.judged(set(values), None, None, t, 0.0)
        scores.append(model.score_one(judged, t))
        model.learn_one(set(values), t)
    return scores


def points_of(drawn: list[tuple[int, frozenset[str]]]) -> list[tuple[float, frozenset[str]]]:
    t, out = 0.0, []
    for gap, values in drawn:
        t += gap * STEP
        out.append((t, values))
    return out


@settings(max_examples=150, deadline=None)
@given(drawn=windows, span=st.integers(1, 5), min_new=st.integers(1, 4))
def test_news_counts_the_values_first_seen_within_the_last_span_steps_in_a_window_with_news(
    drawn, span, min_new
):
    points = points_of(drawn)
    first: dict[str, float] = {}
    for t, values in points:
        for v in values:
            first.setdefault(v, t)
    expected = []
    for t, values in points:
        recent = [v for v, f in first.items() if 0.0 <= t - f < span * STEP]
        fresh = any(first[v] == t for v in values)
        expected.append(1.0 if fresh and len(recent) >= min_new else 0.0)
    model = NewValue(NewValueParams(min_new=min_new, span=span, step=STEP))
    assert run(model, points) == expected


@settings(max_examples=60, deadline=None)
@given(drawn=windows, cut=st.integers(0, 25))
def test_a_snapshot_keeps_the_news_of_the_last_steps(drawn, cut):
    points = points_of(drawn)
    params = NewValueParams(min_new=3, span=4, step=STEP)
    whole = run(NewValue(params), points)
    head = NewValue(params)
    before = run(head, points[:cut])
    after = run(pickle.loads(pickle.dumps(head)), points[cut:])
    assert before + after == whole


def test_a_walk_across_two_windows_is_news_only_with_a_span_over_both():
    walk = [(STEP, frozenset("abc")), (2 * STEP, frozenset("def"))]
    tumbling = NewValue(NewValueParams(min_new=5, step=STEP))
    sliding = NewValue(NewValueParams(min_new=5, span=2, step=STEP))
    assert run(tumbling, walk) == [0.0, 0.0]
    assert run(sliding, walk[:1]) == [0.0]
    judged = sliding.judged(set("def"), None, None, 2 * STEP, 0.0)
    assert sliding.score_one(judged, 2 * STEP) == 1.0
    assert sliding.describe(judged, 2 * STEP)["new_values"] == list("abcdef")


def test_a_window_with_nothing_new_after_a_lull_does_not_retell_a_walk():
    """One walk, one incident: the person's next window, with only values they know, after a
    quiet window that let the alert resolve, is no news though the walk is within the span."""
    model = NewValue(NewValueParams(min_new=5, span=4, step=STEP))
    walk = [(STEP, frozenset("abcdef")), (3 * STEP, frozenset("ab"))]
    assert run(model, walk) == [1.0, 0.0]
    assert model.describe(set("ab"), 3 * STEP)["new_values"] == []
    judged = model.judged(set("bg"), None, None, 4 * STEP, 0.0)
    assert model.score_one(judged, 4 * STEP) == 1.0
