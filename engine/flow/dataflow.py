"""The dataflow, read top to bottom like the data flows: spanwatch's table of contents.

    read ─► decode ─► match ─► order ─┬─────────────────────────────────────► incidents ─► deliver
                                      └─► correlate_and_detect ─► hits ─────┘

- read: history sorted by event time (replay), or what the receivers took in (live).
- decode, per partition: records into events (replay: on the worker that read the partition,
  with no exchange); the receivers' arrivals, numbered (live).
- match, per partition and stateless, before the order: detection rules without a window give
  hits; what the correlation windows and the detectors need goes on as inputs for their shards.
  Matching needs no order, so it runs where the events were read.
- order, one key: event-time order (the sorted history, or a watermark per source), cut into
  epochs; each epoch's share goes to the incidents and to every keyed shard. Replay: the order
  stage hears only the events' times and the hits and control events; the shards' inputs go
  from each partition straight to their shard, and the order stage sends the shards a mark per
  epoch (`engine.flow.shard_lanes`), so an input crosses between workers once, not twice.
- correlate_and_detect, keyed by shard: correlation windows and detector states; their hits.
- incidents, one key: each epoch once every shard has sent its share, in one fixed order,
  into the incident book; live, a tick's hits and control events apply at once.
- deliver: the incident log, notifications and the run's summary (`engine.flow.sinks`
  replay, `engine.live.run` live).

Decode and match run on the worker that reads a partition (replay: one partition per worker,
in as many processes as the run has); the shards spread over the workers; order and incidents
are single points. The steps themselves are in `engine.flow.steps`.

The ids of the steps that keep state (`RECOVERED_STEPS`) key their snapshots in a live
engine's recovery store: a renamed one would start afresh after an upgrade, so they stay as
they are. The steps between them hold nothing and are named for what they hand on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.outputs import Sink

from engine.flow.bytewax_step import Step, Substitute, keyed_step
from engine.flow.epoch_merge import EpochMsg
from engine.flow.items import (
    Addressed,
    Arrivals,
    Batch,
    Decoded,
    ForShard,
    PartitionChunk,
    Result,
    SortedRecords,
    Tick,
    ToOrder,
)
from engine.flow.quarantine import Quarantine
from engine.flow.run_setup import INCIDENTS, ORDER, RunSetup, ShardState
from engine.flow.shard_lanes import ReplayShard, ShardChunk, split_for_shards
from engine.flow.steps import (
    DecodeState,
    IncidentStage,
    OrderState,
    Recall,
    decode_sorted,
    fresh,
    match,
    shard_step,
)

FLOW_ID = "spanwatch"
RECOVERED_STEPS = ("read", "decode", "order", "correlate_and_detect", "incidents", "deliver")
"""The steps whose state a recovery store keeps, by the ids that key it (see the module doc)."""


def recovery_step_id(step: str) -> str:
    """The id under which a recovery store keeps `step`'s snapshots (one of `RECOVERED_STEPS`)."""
    if step not in RECOVERED_STEPS:
        raise ValueError(f"{step!r} keeps no state: the steps that do are {RECOVERED_STEPS}")
    return f"{FLOW_ID}.{step}"


Read = tuple[str, SortedRecords | Arrivals]
"""What the source yields: a partition's name and its next records."""
ShareForIncidents = Sequence[EpochMsg | Tick]
"""What the incident stage takes: the order stage's batch, or one shard's hits."""

StateT = TypeVar("StateT")
ValueT = TypeVar("ValueT")
OutT = TypeVar("OutT")


@dataclass(frozen=True)
class _Stateful:
    """Keyed stateful steps with the run's persistence and quarantine filled in."""

    persist: bool
    quarantine: Quarantine

    def __call__(
        self,
        step_id: str,
        up: op.KeyedStream[ValueT],
        step: Step[StateT, ValueT, OutT],
        substitute: Substitute[ValueT, OutT] | None = None,
    ) -> op.KeyedStream[OutT]:
        if substitute is None:
            return keyed_step(step_id, up, step, persist=self.persist, quarantine=self.quarantine)
        return keyed_step(
            step_id,
            up,
            step,
            persist=self.persist,
            quarantine=self.quarantine,
            substitute=substitute,
        )


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

    def match_arrivals(self, keyed: tuple[str, Decoded]) -> tuple[str, ToOrder]:
        """Live: everything matched goes to the order stage."""
        _partition, decoded = keyed
        return self.setup.keys[ORDER], match(self.setup, decoded, live=self.live)

    def match_history(self, keyed: tuple[str, Decoded]) -> list[tuple[str, ToOrder | ShardChunk]]:
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

    def epochs_for_shard(self, batch: Batch) -> tuple[str, ForShard]:
        """A batch of the order stage under its shard's key (a shard is sent no `Tick`)."""
        epochs = [msg for msg in batch.msgs if isinstance(msg, EpochMsg)]
        return self.setup.keys[batch.dest], ForShard(batch.dest, epochs)

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

    def epochs_to_incidents(self, keyed: tuple[str, Batch]) -> tuple[str, ShareForIncidents]:
        """The order stage's batch for the incidents, under the incidents' key."""
        _order, batch = keyed
        return self.setup.keys[INCIDENTS], batch.msgs

    def hits_to_incidents(self, keyed: tuple[str, list[EpochMsg]]) -> tuple[str, ShareForIncidents]:
        """One shard's hits of its epochs, under the incidents' key."""
        _shard, hits = keyed
        return self.setup.keys[INCIDENTS], hits

    def incidents(
        self, state: IncidentStage | None, msgs: ShareForIncidents
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
    source: Source[tuple[str, SortedRecords]] | Source[tuple[str, Arrivals]],
    partitions: list[str],
    sink: Sink[tuple[str, Result]],  # keyed by the incident stage's key; the sink drops it
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
    stateful = _Stateful(persist, setup.quarantine)
    flow = Dataflow(FLOW_ID)
    read = op.input("read", flow, cast("Source[Read]", source))  # one or the other, as `Read`
    if live:
        matched, shard_inputs = _decode_and_match_arrivals(read, steps, stateful), None
    else:
        matched, shard_inputs = _decode_and_match_history(read, steps)
    epochs = stateful("order", matched, steps.order)
    for_incidents, for_shards = _incidents_or_shards(epochs)
    hits = _correlate_and_detect(for_shards, shard_inputs, steps, stateful)
    to_book = op.merge(
        "epochs_and_hits",
        op.map("epochs_to_incidents", for_incidents, steps.epochs_to_incidents),
        op.map("hits_to_incidents", hits, steps.hits_to_incidents),
    )
    op.output("deliver", stateful("incidents", to_book, steps.incidents), sink)
    return flow


def _decode_and_match_arrivals(
    read: Stream[Read], steps: _Steps, stateful: _Stateful
) -> op.KeyedStream[ToOrder]:
    """Live: arrivals are numbered per partition, a count kept in recovery; everything
    matched goes to the order stage."""
    chunks = op.map("chunk_with_partition", read, _chunk_with_partition)
    decoded = stateful("decode", chunks, steps.decode)
    return op.map("match", decoded, steps.match_arrivals)


def _decode_and_match_history(
    read: Stream[Read], steps: _Steps
) -> tuple[op.KeyedStream[ToOrder], op.KeyedStream[ShardChunk]]:
    """Replay: history records carry their place in the order, so they are decoded where they
    were read; what the shards need goes straight to them, the rest to the order stage."""
    decoded = op.map("decode", read, _decode_history)
    lanes = op.branch(
        "order_or_shard_inputs", op.flat_map("match", decoded, steps.match_history), _is_order
    )
    to_order = cast("op.KeyedStream[ToOrder]", lanes.trues)  # what _is_order let by
    return to_order, cast("op.KeyedStream[ShardChunk]", lanes.falses)


def _incidents_or_shards(
    epochs: op.KeyedStream[Batch],
) -> tuple[Stream[tuple[str, Batch]], Stream[Batch]]:
    """The order stage's batches: the incidents' one as it is, the shards' ones to be keyed
    by shard."""
    split = op.branch("incidents_or_shards", epochs, _for_incidents)
    for_shards = op.map("batch_of_shard", split.falses, _batch)
    return split.trues, for_shards


def _correlate_and_detect(
    for_shards: Stream[Batch],
    shard_inputs: op.KeyedStream[ShardChunk] | None,
    steps: _Steps,
    stateful: _Stateful,
) -> op.KeyedStream[list[EpochMsg]]:
    """Each shard's epochs from the order stage (and, in replay, its inputs straight from the
    partitions) through its correlation windows and detectors: a list of `EpochMsg` (the
    shard's hits) per step."""
    epochs = op.map("epochs_for_shard", for_shards, steps.epochs_for_shard)
    # on a failed step the incident stage still hears that the epoch is done
    if shard_inputs is None:
        return stateful("correlate_and_detect", epochs, steps.correlate_and_detect, _no_hits)
    inputs: op.KeyedStream[ShardChunk | ForShard] = op.merge(
        "inputs_and_epochs", shard_inputs, epochs
    )
    return stateful("correlate_and_detect", inputs, steps.correlate_sorted, _no_hits)


def _decode_history(read: Read) -> tuple[str, Decoded]:
    partition, records = read
    assert isinstance(records, SortedRecords)  # replay's source
    return partition, decode_sorted(partition, records)


def _chunk_with_partition(read: Read) -> tuple[str, PartitionChunk]:
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


def _for_incidents(keyed: tuple[str, Batch]) -> bool:
    _order, batch = keyed
    return batch.dest == INCIDENTS


def _batch(keyed: tuple[str, Batch]) -> Batch:
    """A shard's batch without the order stage's key (`epochs_for_shard` keys it anew)."""
    _order, batch = keyed
    return batch


def _is_order(keyed: tuple[str, ToOrder | ShardChunk]) -> bool:
    _key, item = keyed
    return isinstance(item, ToOrder)


def _no_hits(share: ForShard | ShardChunk) -> list[list[EpochMsg]]:
    """A shard's share when its step failed: no hits, but the epochs are done."""
    if isinstance(share, ShardChunk):
        return []
    return [[EpochMsg(share.shard, m.index, m.watermark, [], m.final) for m in share.msgs]]
