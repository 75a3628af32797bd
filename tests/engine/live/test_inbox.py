"""The inbox as a state machine: bounded by events and by bytes, records visible in log order,
policy hits in a lane of their own that only records taken in can fill, and drains that say
where they leave the log."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.live.inbox import AcceptedItem, Inbox

offer = st.tuples(
    st.lists(st.sampled_from(["leak", "shell.run"]), min_size=0, max_size=6),
    st.integers(1, 400),  # bytes the request holds
    st.booleans(),  # whether its write to the intake log succeeds
)
step = st.one_of(offer, st.integers(0, 8))  # a request, or a drain of up to N events


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(step, max_size=40), max_events=st.integers(1, 12))
def test_bounds_hold_and_every_event_and_hit_is_taken_once_in_log_order(steps, max_events):
    inbox = Inbox(max_events=max_events, max_bytes=1000)
    seq = pos = n = 0
    published_hits: list[str] = []
    taken_hits: list[str] = []
    waiting: list[tuple[int, int, int]] = []  # (record position, index, n) not yet taken
    taken: list[tuple[int, int, int]] = []
    for action in steps:
        if isinstance(action, int):
            drain = inbox.peek(action)
            first_waiting = waiting[len(drain.events)] if len(drain.events) < len(waiting) else None
            inbox.commit(drain)
            taken_hits += drain.hits
            got = [(ref[0], ref[1], windowed[0][1]) for _s, _t, windowed, ref in drain.events]
            assert got == waiting[: len(got)]  # from the head, in log order
            taken += got
            del waiting[: len(got)]
            if first_waiting is not None:  # every record before scan_from was taken whole
                assert drain.scan_from <= first_waiting[0]
            assert (drain.ev_seq, drain.ev_idx) >= (0, 0)
            continue
        names, nbytes, written = action
        fits = (
            inbox.waiting_events + len(names) <= max_events and inbox.waiting_bytes + nbytes <= 1000
        )
        assert inbox.reserve(len(names), nbytes) is fits
        if not fits:
            continue
        if not written:  # the disk refused it: the room is free again
            inbox.release(len(names), nbytes)
            continue
        seq += 1
        pos += 37 + 5 * len(names)
        arrivals = [("peer=a:1", 1.0, [("shard-0", n + i)]) for i in range(len(names))]
        hits = [f"hit-{n + i}" for i, name in enumerate(names) if name == "leak"]
        inbox.publish([AcceptedItem(seq, pos, arrivals, hits, [], nbytes)], pos + 40)
        published_hits += hits
        waiting += [(pos, i, n + i) for i in range(len(names))]
        n += len(names)
        assert inbox.waiting_events == len(waiting) <= max_events
        assert 0 <= inbox.waiting_bytes <= 1000
    drain = inbox.peek(10**6)
    inbox.commit(drain)
    taken_hits += drain.hits
    taken += [(ref[0], ref[1], windowed[0][1]) for _s, _t, windowed, ref in drain.events]
    assert [t[2] for t in taken] == list(range(n))  # every event once, in order
    assert taken_hits == published_hits  # every hit of a record taken in, in order, no other
    assert inbox.waiting_bytes == 0 and inbox.waiting_events == 0


def test_a_batch_larger_than_the_whole_inbox_could_never_fit():
    inbox = Inbox(max_events=10, max_bytes=1000)
    assert inbox.fits(10, 1000) and not inbox.fits(11, 10) and not inbox.fits(1, 1001)


def test_refusals_at_decode_are_counted_per_sender():
    inbox = Inbox()
    inbox.count_refused(["peer=a:1", "peer=b:2", "peer=a:1"])
    assert inbox.refused_senders() == {"peer=a:1": 2, "peer=b:2": 1}
