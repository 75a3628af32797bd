"""The merger's output depends on the data alone, never on arrival order."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ordering import Batch, EventOrder, LatenessTracker


def batches_for(partition: int, times: list[float], lateness: float, per_batch: int) -> list[Batch]:
    tracker = LatenessTracker(lateness)
    out: list[Batch] = []
    items = []
    for seq, t in enumerate(times):
        placed, _late = tracker.place(t)
        items.append((placed, seq, (partition, seq, t)))
        if len(items) == per_batch:
            out.append(Batch(partition, tracker.high, items))
            items = []
    out.append(Batch(partition, tracker.high, items, done=True))
    return out


def run(order: EventOrder, batches: list[Batch]) -> list[tuple[int, float, dict]]:
    epochs = []
    for b in batches:
        epochs.extend(order.push(b))
    return [(e.index, e.watermark, e.items, e.final) for e in epochs]


streams = st.lists(
    st.lists(st.floats(min_value=0, max_value=5000, allow_nan=False), max_size=40),
    min_size=1,
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(streams, st.randoms(use_true_random=False), st.integers(1, 5))
def test_epochs_do_not_depend_on_interleaving(parts, rnd, per_batch):
    per_partition = [batches_for(i, ts, 60.0, per_batch) for i, ts in enumerate(parts)]
    in_order = [b for bs in per_partition for b in bs]
    # a random interleaving that keeps each partition's own order
    queues = [list(bs) for bs in per_partition]
    shuffled = []
    while any(queues):
        q = rnd.choice([q for q in queues if q])
        shuffled.append(q.pop(0))
    first = run(
        EventOrder(len(parts), lateness=60.0, tick=30, heartbeat=300, max_quiet=900),
        in_order,
    )
    second = run(
        EventOrder(len(parts), lateness=60.0, tick=30, heartbeat=300, max_quiet=900),
        shuffled,
    )
    assert first == second
    released = [p for _i, _w, items, _f in first for p in items]
    assert sorted(released) == sorted(
        (i, s, t) for i, ts in enumerate(parts) for s, t in enumerate(ts)
    )
    assert first[-1][3] is True
    assert sum(1 for e in first if e[3]) == 1


def test_items_come_out_in_time_order_within_lateness():
    order = EventOrder(1, lateness=30, tick=10, heartbeat=10)
    tracker = LatenessTracker(lateness=30)
    times = [100, 95, 120, 110, 150, 149, 200]
    out = []
    for seq, t in enumerate(times):
        placed, late = tracker.place(t)
        assert not late
        for e in order.push(Batch(0, tracker.high, [(placed, seq, t)])):
            out.extend(e.items)
    for e in order.push(Batch(0, tracker.high, [], done=True)):
        out.extend(e.items)
    assert out == sorted(times)


def test_a_late_record_is_placed_at_its_partitions_watermark():
    tracker = LatenessTracker(lateness=60)
    tracker.place(1000)
    assert tracker.place(950) == (950, False)
    assert tracker.place(100) == (940, True)


def test_long_silences_are_skipped_but_heartbeats_cover_the_quiet_span():
    order = EventOrder(1, lateness=0, tick=30, heartbeat=300, max_quiet=900)
    epochs = order.push(Batch(0, 0.0, [(0.0, 0, "first")]))
    epochs += order.push(Batch(0, 10**9, [(10**9, 1, "much later")]))
    epochs += order.push(Batch(0, 10**9, [], done=True))
    marks = [e.watermark for e in epochs]
    assert marks[:5] == [30, 300, 600, 900, math.floor(10**9 / 30) * 30 + 30]
    assert len(epochs) == 6 and epochs[-1].final
