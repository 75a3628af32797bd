"""The dataflow, read top to bottom like the data flows: spanwatch's table of contents.

    read ─► decode ─► match ─► order ─┬──────────────────────────────► incidents ─► deliver
                                      └─► correlate_and_detect ─► hits ─┘

- read: history sorted by event time (replay), or what the receivers took in (live).
- decode, per partition: records into events (replay: on the worker that read the partition,
  with no exchange); the receivers' arrivals (live).
- match, per partition and stateless: detection rules without a window give hits; what the
  correlation windows and the detectors need goes on as inputs addressed to their shards.
- order, one key: event-time order (the sorted history, or a watermark per source), cut into
  epochs; each epoch's share goes to the incidents and to every keyed shard. Replay: the order
  stage hears only the events' times and the hits and control events; the shards' inputs go
  from each partition straight to their shard, and the order stage sends the shards a mark per
  epoch (`engine.flow.shard_lanes`), so an input crosses between workers once, not twice.
- correlate_and_detect, keyed by shard: correlation windows and detector states; their hits.
- incidents, one key: each epoch once every shard has sent its share, in one fixed order,
  into the incident book; live, a tick's hits and control events apply at once.
- deliver: the incident log, notifications and the run's summary (`engine.flow.sinks`).

Decode and match run on the worker that reads a partition (replay: one partition per worker,
in as many processes as the run has); the shards spread over the workers; order and incidents
are single points. The steps themselves are in `engine.flow.steps`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.outputs import Sink

from engine.flow.bytewax_step import Step, keyed_step
from engine.flow.epoch_merge import EpochMsg
from engine.flow.items import (
    Addressed,
    Arrivals,
    Batch,
    Decoded,
    ForShard,
    PartitionChunk,
    SortedRecords,
    Tick,
    ToOrder,
)
from engine.flow.run_setup import INCIDENTS, ORDER, RunSetup, ShardState
from engine.flow.shard_lanes import ReplayShard, ShardChunk, split_for_shards
from engine.flow.steps import (
    DecodeState,
    IncidentStage,
    OrderState,
    Recall,
    Result,
    decode_sorted,
    fresh,
    match,
    shard_step,
)

_Keyed = Callable[..., "op.KeyedStream[Any]"]
"""`keyed_step` with the run's persistence and quarantine filled in."""


@dataclass
class _Steps:
    """The dataflow's step functions over one run's setup: thin shells around `engine.flow.steps`."""

    setup: RunSetup
    partitions: list[str]
    live: bool
    recall: Recall | None
    shard_timer: Callable[[str, float], None] | None

    def decode(
        self, state: DecodeState | None, chunk: PartitionChunk
    ) -> tuple[DecodeState, list[Decoded]]:
        if state is None or fresh(state, DecodeState):
            state = DecodeState()
        assert isinstance(chunk.records, Arrivals)
        decoded = state.step(chunk.partition, chunk.records)
        if self.recall is None:  # nothing reads an intake log back: events wait as themselves
            for item in decoded.items:
                item.ref = None
        return state, [decoded]

    def match_events(self, keyed: tuple[str, Decoded]) -> tuple[str, ToOrder]:
        _partition, decoded = keyed
        return self.setup.keys[ORDER], match(self.setup, decoded, live=self.live)

    def match_sorted(self, keyed: tuple[str, Decoded]) -> list[tuple[str, ToOrder | ShardChunk]]:
        """Replay: the chunk's events and hits' times to the order stage, and each shard's
        inputs straight to the shard (`engine.flow.shard_lanes`)."""
        _partition, decoded = keyed
        matched = match(self.setup, decoded, live=False)
        keys, shards = self.setup.keys, self.setup.shard_names
        to_order, chunks = split_for_shards(matched, decoded.number, shards)
        return [(keys[ORDER], to_order), *((keys[c.shard], c) for c in chunks)]

    def order(self, state: OrderState | None, chunk: ToOrder) -> tuple[OrderState, list[Batch]]:
        if state is None or fresh(state, OrderState):
            state = OrderState(self.setup, self.partitions, self.live)
        return state, _batched(state.step(self.setup, chunk, self.recall))

    def by_shard(self, batch: Batch) -> tuple[str, ForShard]:
        return self.setup.keys[batch.dest], ForShard(batch.dest, batch.msgs)  # type: ignore[arg-type]

    def correlate_and_detect(
        self, state: ShardState | None, share: ForShard
    ) -> tuple[ShardState, list[list[EpochMsg]]]:
        hits: list[EpochMsg] = []
        for msg in share.msgs:
            started = time.perf_counter()
            state, found = shard_step(self.setup, share.shard, state, msg)
            hits.append(found)
            if self.shard_timer is not None:
                self.shard_timer(share.shard, time.perf_counter() - started)
        assert state is not None
        return state, [hits]

    def correlate_sorted(
        self, state: ReplayShard | None, share: ForShard | ShardChunk
    ) -> tuple[ReplayShard, list[list[EpochMsg]]]:
        """Replay: a shard's inputs from the partitions and its epochs' marks from the order
        stage; each epoch once its inputs are all in."""
        if not isinstance(state, ReplayShard):
            state = ReplayShard(self.partitions)
        if isinstance(share, ShardChunk):
            state.inbox.add_chunk(share)
        else:
            state.inbox.add_marks(share.msgs)
        hits: list[EpochMsg] = []
        for msg in state.inbox.ready():
            state.state, found = shard_step(self.setup, share.shard, state.state, msg)
            hits.append(found)
        return state, [hits] if hits else []

    def to_incidents(
        self, keyed: tuple[str, list[EpochMsg | Tick]]
    ) -> tuple[str, list[EpochMsg | Tick]]:
        """The order stage's share (a `Batch`) and each shard's hits, under the incidents' key."""
        _from, msgs = keyed
        return self.setup.keys[INCIDENTS], msgs

    def incidents(
        self, state: IncidentStage | None, msgs: list[EpochMsg | Tick]
    ) -> tuple[IncidentStage, list[Result]]:
        if not isinstance(state, IncidentStage):
            state = IncidentStage(self.setup)
        state.adapt(self.setup, self.live)
        out: list[Result] = []
        for msg in msgs:
            out.extend(state.step(msg, self.setup.quarantine))
        return state, out


def build_dataflow(
    setup: RunSetup,
    source: Source[tuple[str, Any]],
    partitions: list[str],
    sink: Sink[tuple[str, Any]],
    *,
    live: bool = False,
    persist: bool = False,
    recall: Recall | None = None,
    shard_timer: Callable[[str, float], None] | None = None,
) -> Dataflow:
    """`partitions`: the source's partition keys. `live`: per-source watermarks, and hits
    without a window straight to the incidents. `persist`: snapshot state (Bytewax recovery).
    `recall`: live, reads waiting events back from the intake log (`engine.live.intake`).
    `shard_timer(shard, seconds)`: told how long each shard took over each epoch."""
    steps = _Steps(setup, partitions, live, recall, shard_timer)
    keyed = partial(keyed_step, persist=persist, quarantine=setup.quarantine)
    flow = Dataflow("spanwatch")
    read = op.input("read", flow, source)
    if live:
        matched, shard_inputs = _decode_and_match_arrivals(read, steps, keyed), None
    else:
        matched, shard_inputs = _decode_and_match_history(read, steps)
    epochs = keyed("order", matched, steps.order)
    shares = op.branch("to_incidents_or_shards", op.map("addressed", epochs, _addressed), _is_book)
    hits = _correlate_and_detect(shares.falses, shard_inputs, steps, keyed)
    to_book = op.merge(
        "merge_for_incidents",
        op.map("order_to_incidents", shares.trues, steps.to_incidents),
        op.map("hits_to_incidents", hits, steps.to_incidents),
    )
    op.output("deliver", keyed("incidents", to_book, steps.incidents), sink)
    return flow


def _decode_and_match_arrivals(
    read: Stream[tuple[str, Any]], steps: _Steps, keyed: _Keyed
) -> op.KeyedStream[ToOrder]:
    """Live: arrivals are numbered per partition, a count kept in recovery; everything
    matched goes to the order stage."""
    decoded = keyed("decode", op.map("by_partition", read, _by_partition), steps.decode)
    return op.map("match", decoded, steps.match_events)


def _decode_and_match_history(
    read: Stream[tuple[str, Any]], steps: _Steps
) -> tuple[op.KeyedStream[ToOrder], op.KeyedStream[ShardChunk]]:
    """Replay: history records carry their place in the order, so they are decoded where they
    were read; what the shards need goes straight to them, the rest to the order stage."""
    decoded = op.map("decode", read, _decode_history)
    lanes = op.branch(
        "to_order_or_shards", op.flat_map("match", decoded, steps.match_sorted), _is_order
    )
    to_order = cast("op.KeyedStream[ToOrder]", lanes.trues)  # what _is_order let by
    return to_order, cast("op.KeyedStream[ShardChunk]", lanes.falses)


def _correlate_and_detect(
    to_shards: Stream[Batch],
    shard_inputs: op.KeyedStream[ShardChunk] | None,
    steps: _Steps,
    keyed: _Keyed,
) -> op.KeyedStream[Any]:
    """Each shard's epochs from the order stage (and, in replay, its inputs straight from the
    partitions) through its correlation windows and detectors: a list of `EpochMsg` (the
    shard's hits) per step."""
    shares = op.map("by_shard", to_shards, steps.by_shard)
    step: Step
    if shard_inputs is None:
        inputs, step = shares, steps.correlate_and_detect
    else:
        inputs, step = op.merge("inputs_and_marks", shard_inputs, shares), steps.correlate_sorted
    # on a failed step the incident stage still hears that the epoch is done
    return keyed("correlate_and_detect", inputs, step, substitute=_empty_share)


def _decode_history(read: tuple[str, SortedRecords]) -> tuple[str, Decoded]:
    partition, records = read
    return partition, decode_sorted(partition, records)


def _by_partition(
    read: tuple[str, SortedRecords | Arrivals],
) -> tuple[str, PartitionChunk]:
    """A keyed step sees values only: the chunk carries its partition's name with it."""
    partition, records = read
    return partition, PartitionChunk(partition, records)


def _batched(addressed: list[Addressed]) -> list[Batch]:
    """The order stage's messages of one step, one batch per destination (in order): a step
    often completes many epochs, and each item that crosses workers, or processes, has a cost
    of its own."""
    batches: dict[str, list[EpochMsg | Tick]] = {}
    for dest, msg in addressed:
        batches.setdefault(dest, []).append(msg)
    return [Batch(dest, msgs) for dest, msgs in batches.items()]


def _addressed(keyed: tuple[str, Batch]) -> Batch:
    """The order stage's output is keyed by its own key: key each batch by its destination
    (a `Batch` is that pair)."""
    _order, batch = keyed
    return batch


def _is_book(batch: Batch) -> bool:
    return batch.dest == INCIDENTS


def _is_order(keyed: tuple[str, ToOrder | ShardChunk]) -> bool:
    return isinstance(keyed[1], ToOrder)


def _empty_share(share: ForShard | ShardChunk) -> list[list[EpochMsg]]:
    """A shard's share when its step failed: no hits, but the epochs are done."""
    if isinstance(share, ShardChunk):
        return []
    return [[EpochMsg(share.shard, m.index, m.watermark, [], m.final) for m in share.msgs]]
