"""A replay shard's inbox: inputs straight from the partitions, marks from the order stage, and
out the same epochs, with the same inputs in the same order, as if they had passed through the
order stage; whatever order the partitions' chunks and the marks arrive in."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.flow.epoch_merge import EpochMsg
from engine.flow.items import Matched, Timed, ToOrder
from engine.flow.shard_lanes import ShardChunk, ShardInbox, split_for_shards

TICK = 30.0


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[tuple[float, int, list[str]]], int, list[int]]:
    """Sorted events (time, place, inputs) over a few ticks, a partition count, chunk sizes."""
    times = sorted(draw(st.lists(st.integers(0, 40 * 8), min_size=1, max_size=60)))
    events = [
        (t / 8 * TICK / 5, place, [f"in-{place}-{k}" for k in range(draw(st.integers(1, 3)))])
        for place, t in enumerate(times, 1)
    ]
    return events, draw(st.integers(1, 3)), draw(st.lists(st.integers(1, 5), min_size=1))


def chunks_of(events, partitions: int, sizes: list[int]) -> list[ShardChunk]:
    """Each event to the partition of its place; each partition cut into chunks of the sizes."""
    out = []
    for p in range(partitions):
        mine = [e for e in events if e[1] % partitions == p]
        number, at, done = 0, 0, False
        while not done:
            size = sizes[number % len(sizes)]
            part = mine[at : at + size]
            at += size
            number += 1
            done = at >= len(mine)
            upto = math.inf if done else part[-1][0]
            out.append(ShardChunk("d0", f"p{p}", number, upto, part))
    return out


def marks_for(events) -> list[EpochMsg]:
    last = math.floor(events[-1][0] / TICK) + 1
    marks = [EpochMsg("order", i + 1, (i + 1) * TICK, []) for i in range(last)]
    return [*marks, EpochMsg("order", last + 1, (last + 1) * TICK, [], final=True)]


@settings(max_examples=150, deadline=None)
@given(histories(), st.randoms(use_true_random=False), st.integers(0, 100))
def test_epochs_hold_the_same_inputs_in_order_whatever_arrives_first(history, rnd, at_share):
    events, partitions, sizes = history
    arrivals: list[ShardChunk | list[EpochMsg]] = list(chunks_of(events, partitions, sizes))
    rnd.shuffle(arrivals)
    marks = marks_for(events)
    cut = len(marks) * at_share // 100  # some marks before any input, the rest at a random place
    arrivals.insert(0, marks[:cut])
    arrivals.insert(rnd.randint(1, len(arrivals)), marks[cut:])  # marks come in order
    inbox = ShardInbox([f"p{p}" for p in range(partitions)])
    released: list[EpochMsg] = []
    for arrival in arrivals:
        if isinstance(arrival, ShardChunk):
            inbox.add_chunk(arrival)
        else:
            inbox.add_marks(arrival)
        released += inbox.ready()
    expected = [
        [i for t, _p, its in events if mark.watermark - TICK <= t < mark.watermark for i in its]
        for mark in marks[:-1]
    ]
    assert [m.index for m in released] == [m.index for m in marks]
    assert [m.items for m in released[:-1]] == expected
    assert released[-1].final and released[-1].items == []


def test_an_epoch_waits_for_the_partition_that_is_behind():
    inbox = ShardInbox(["p0", "p1"])
    inbox.add_marks([EpochMsg("order", 1, 30.0, [])])
    inbox.add_chunk(ShardChunk("d0", "p0", 1, 40.0, [(10.0, 1, ["a"]), (40.0, 3, ["c"])]))
    assert inbox.ready() == []
    inbox.add_chunk(ShardChunk("d0", "p1", 2, 50.0, [(45.0, 4, ["d"])]))
    assert inbox.ready() == []  # p1's first chunk is still missing
    inbox.add_chunk(ShardChunk("d0", "p1", 1, 20.0, [(20.0, 2, ["b"])]))
    assert [m.items for m in inbox.ready()] == [["a", "b"]]


def test_a_chunk_sends_the_order_stage_times_and_hits_and_each_shard_its_inputs():
    items = [
        Timed(1.0, 1, "", Matched([], [("d0", "x"), ("d1", "y"), ("d0", "z")])),
        Timed(2.0, 2, "", Matched(["hit"], [("d1", "w")])),  # type: ignore[list-item]
        Timed(3.0, 3, "", Matched([], [])),
    ]
    order, chunks = split_for_shards(ToOrder("p0", items, None, False, None), 7, ["d0", "d1"])
    assert order.times == [1.0, 3.0]
    assert [(t.time, t.seq, t.payload.hits) for t in order.items] == [(2.0, 2, ["hit"])]
    assert chunks == [
        ShardChunk("d0", "p0", 7, 3.0, [(1.0, 1, ["x", "z"])]),
        ShardChunk("d1", "p0", 7, 3.0, [(1.0, 1, ["y"]), (2.0, 2, ["w"])]),
    ]
