"""The inbox as a state machine: bounded by events and by bytes, with policy hits in a lane of
their own that only batches it took can fill."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.live.inbox import Inbox


def match(event: dict[str, Any]) -> tuple[list[Any], list[tuple[str, Any]]]:
    """Events named `leak` are policy hits; every event also goes to a window."""
    hits = [f"hit-{event['n']}"] if event["name"] == "leak" else []
    return hits, [("shard-0", event["n"])]


batch = st.tuples(
    st.lists(st.sampled_from(["leak", "shell.run"]), min_size=1, max_size=6),
    st.integers(1, 400),  # bytes the batch holds
)
step = st.one_of(batch, st.integers(0, 8))  # an offer, or a drain of up to N events


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(step, max_size=40), max_events=st.integers(1, 12))
def test_bounds_hold_and_hits_come_only_from_batches_taken(steps, max_events):
    inbox = Inbox(max_events=max_events, max_bytes=1000, match=match)
    n = 0
    taken_hits: list[str] = []
    drained_hits: list[str] = []
    waiting: list[int] = []
    for action in steps:
        if isinstance(action, int):
            events, hits, _controls, _done = inbox.drain(action)
            drained_hits += hits
            assert [seq for _sender, _event, windowed in events for _shard, seq in windowed] == (
                waiting[: len(events)]
            )
            del waiting[: len(events)]
        else:
            names, nbytes = action
            events = [{"name": name, "n": n + i} for i, name in enumerate(names)]
            n += len(names)
            fits = (
                inbox.waiting_events + len(events) <= max_events
                and inbox.waiting_bytes + nbytes <= 1000
            )
            assert inbox.offer_events(events, "peer=a:1", nbytes) is fits
            if fits:
                taken_hits += [f"hit-{e['n']}" for e in events if e["name"] == "leak"]
                waiting += [e["n"] for e in events]
        assert inbox.waiting_events == len(waiting) <= max_events
        assert 0 <= inbox.waiting_bytes <= 1000
    events, hits, _, _ = inbox.drain(10**6)
    drained_hits += hits
    assert drained_hits == taken_hits  # every hit of a taken batch, in order, and no other
    assert inbox.waiting_bytes == 0 and inbox.waiting_events == 0


def test_a_batch_larger_than_the_whole_inbox_could_never_fit():
    inbox = Inbox(max_events=10, max_bytes=1000, match=match)
    assert inbox.fits(10, 1000) and not inbox.fits(11, 10) and not inbox.fits(1, 1001)


def test_refusals_at_decode_are_counted_per_sender():
    inbox = Inbox()
    inbox.count_refused(["peer=a:1", "peer=b:2", "peer=a:1"])
    assert inbox.refused_senders() == {"peer=a:1": 2, "peer=b:2": 1}
