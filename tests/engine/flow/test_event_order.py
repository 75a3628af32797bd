"""The order stage's epochs depend on the items and watermarks alone, never on batching."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.flow.event_order import EventOrder, Frontier


def order() -> EventOrder:
    return EventOrder(tick=30, heartbeat=300, max_quiet=900)


def run(items: list[float], cuts: list[int]) -> list[tuple]:
    """Push sorted `items`, releasing at the newest time after each cut, then end the stream."""
    o, out = order(), []
    start = 0
    for cut in [*sorted(cuts), len(items)]:
        for seq in range(start, cut):
            o.push(items[seq], seq, (seq, items[seq]))
        if cut > start:
            out.extend(o.release(items[cut - 1]))
        start = max(start, cut)
    out.extend(o.release(math.inf))
    return [(e.index, e.watermark, e.items, e.final) for e in out]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=5000, allow_nan=False), max_size=60).map(sorted),
    st.lists(st.integers(0, 60), max_size=10),
)
def test_epochs_do_not_depend_on_how_sorted_input_is_batched(items, cuts):
    cuts = [c for c in cuts if c <= len(items)]
    first = run(items, cuts)
    assert first == run(items, [])
    released = [item for _i, _w, its, _f in first for item in its]
    assert released == [(seq, t) for seq, t in enumerate(items)]
    assert first[-1][3] is True and sum(1 for e in first if e[3]) == 1
    for _index, watermark, its, _final in first:
        assert all(t < watermark for _seq, t in its)


def test_items_wait_for_the_watermark_and_leave_in_time_order():
    o = order()
    for seq, t in enumerate([100, 95, 120, 110, 150, 149, 200]):
        o.push(t, seq, t)
    assert o.release(60) == []
    first = o.release(150)
    assert [t for e in first for t in e.items] == [95, 100, 110, 120, 149]
    rest = o.release(math.inf)
    assert [t for e in rest for t in e.items] == [150, 200]


def test_an_item_behind_the_watermark_keeps_its_own_time():
    o = order()
    o.push(100, 0, "first")
    (epoch,) = o.release(200)
    assert o.released == epoch.watermark == 120
    o.push(50, 1, (50, "behind"))
    o.push(130, 2, (130, "on time"))
    (late,) = o.release(200)
    assert late.items == [(50, "behind"), (130, "on time")] and late.watermark == 150


def test_long_silences_are_skipped_but_heartbeats_cover_the_quiet_span():
    o = EventOrder(tick=30, heartbeat=300, max_quiet=900)
    o.push(0.0, 0, "first")
    epochs = o.release(0.0)
    o.push(10**9, 1, "much later")
    epochs += o.release(10**9)
    epochs += o.release(math.inf)
    marks = [e.watermark for e in epochs]
    assert marks[:5] == [30, 300, 600, 900, math.floor(10**9 / 30) * 30 + 30]
    assert len(epochs) == 6 and epochs[-1].final


def test_the_frontier_waits_for_every_partition_until_it_ends():
    f = Frontier(["a", "b"])
    assert f.watermark() == -math.inf
    f.advance("a", 50.0)
    assert f.watermark() == -math.inf  # b has said nothing yet
    f.advance("b", 20.0)
    assert f.watermark() == 20.0
    f.advance("b", 10.0)  # never backwards
    assert f.watermark() == 20.0
    f.advance("b", 30.0, done=True)
    assert f.watermark() == 50.0
    f.advance("a", 60.0, done=True)
    assert f.watermark() == math.inf
