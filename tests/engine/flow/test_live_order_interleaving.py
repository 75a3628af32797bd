"""The live order stage gives every shard the same inputs in the same order however the senders'
streams interleave on the way to it: in one partition or two (one process or a cluster's two),
in chunks of any size, whichever sender comes first. Events behind their own sender's watermark
count only in the windows that watermark left open, whatever the others' progress."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.model import Observation
from engine.config import SpanwatchConfig
from engine.flow.items import Matched, Tick, Timed, ToOrder
from engine.flow.run_setup import INCIDENTS, RunSetup
from engine.flow.steps import OrderState

T0 = 1_800_000_000.0  # event times: T0 .. T0 + 600; the stage's clock is past them all
SENDERS = [f"kafka=otlp_spans[{p}]" for p in range(4)]
USERS = ["ann", "bo", "cy"]
SETUP = RunSetup(
    SpanwatchConfig.model_validate(
        {
            "stream": {"allowed_lateness": 10, "idle_timeout": 3600},
            "detectors": [
                {
                    "id": "commands",
                    "kind": "ewma",
                    "aggregation": "count",
                    "filter": {"name": "shell.run"},
                    "group_by": ["user"],
                    "interval": "1m",
                }
            ],
        }
    ),
    all_shards=True,
)
SETUP.expected_sources = list(SENDERS)

event = st.tuples(st.floats(0, 600, allow_nan=False), st.sampled_from(USERS))
streams = st.lists(st.lists(event, max_size=25), min_size=4, max_size=4)


def _run(streams, order: list[int], sizes: list[int], partitions: int) -> tuple:
    """Feed each sender's stream in its own order, the senders interleaved as `order` says
    (sender numbers, taken while they last), `sizes` events per chunk; each sender's chunks
    through partition `sender mod partitions`. What every shard got, and the late count."""
    state = OrderState(SETUP, [f"live-{i}" for i in range(partitions)], live=True)
    pending = [[*s, (900.0, "closer")] for s in streams]
    got: dict[str, list] = {}
    clock = T0 + 1000
    turns = [*order, *(s for s in range(4) for _ in range(len(pending[s])))]
    for n, sender in enumerate(turns):
        size = sizes[n % len(sizes)]
        chunk, pending[sender] = pending[sender][:size], pending[sender][size:]
        clock += 0.05
        _collect(state.step(SETUP, _chunk(sender, chunk, clock, partitions)), got)
    _collect(state.step(SETUP, ToOrder("live-0", [], T0 + 2000, False, None)), got)
    return got, state.stats.late


def _chunk(sender: int, events, clock: float, partitions: int) -> ToOrder:
    items = []
    for offset, user in events:
        payload = {"time": T0 + offset, "name": "shell.run", "user": user}
        windowed = SETUP.match(payload)[1]
        items.append(Timed(T0 + offset, 0, SENDERS[sender], Matched([], windowed)))
    return ToOrder(f"live-{sender % partitions}", items, clock, False, None)


def _collect(out, got: dict[str, list]) -> None:
    for addressed in out:
        if addressed.dest == INCIDENTS:
            assert isinstance(addressed.msg, Tick)
            continue
        got.setdefault(addressed.dest, []).extend(addressed.msg.items)


@settings(max_examples=40, deadline=None)
@given(
    streams,
    st.lists(st.integers(0, 3), max_size=60),
    st.lists(st.integers(1, 9), min_size=1, max_size=8),
    st.integers(1, 2),
)
def test_shard_inputs_do_not_depend_on_how_senders_interleave(streams, order, sizes, partitions):
    one_by_one = _run(streams, [], [1], 1)
    assert _run(streams, order, sizes, partitions) == one_by_one
    got, _late = one_by_one
    counted = sum(len(items) for items in got.values())
    assert counted <= sum(len(s) + 1 for s in streams)


def test_an_event_behind_its_own_sender_counts_only_where_that_sender_left_windows_open():
    """Sender 0 runs five minutes ahead of sender 1; its event three minutes back is late by
    its own clock, whether sender 1 has sent yet or not."""
    streams = [[(400.0, "ann"), (200.0, "ann")], [(100.0, "bo")], [], []]
    early = _run(streams, [0, 0, 1], [1], 1)
    late = _run(streams, [1, 0, 0], [1], 2)
    assert early == late
    assert early[1] == 1
    counted = [
        (item.group, item.time - T0)
        for items in early[0].values()
        for item in items
        if isinstance(item, Observation) and item.detector_id == "commands"
    ]
    assert [c for c in counted if c[0] != ("closer",)] == [(("bo",), 100.0), (("ann",), 400.0)]
