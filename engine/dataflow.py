"""The dataflow, read top to bottom like the data flow.

read ─ decode ─ match ─ order (event time: sorted history, or a watermark per source)
                          ├─ the incidents' share of each epoch; live, each tick with the hits of
                          │  rules without a window and the control events, applied at once ──┐
                          └─ correlate_and_detect (keyed shards: windows, rollups, detectors) ┤
                                                                                              ▼
                                          incidents (epochs merged in one order; incident book)
                                                                                              ▼
                                                           deliver (incident log, notifications)

`decode` and `match` run per partition, on whichever worker owns it; `order` and `incidents`
are single keys; the shards spread over the workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink

from engine.bw import keyed_step
from engine.items import Arrivals, Decoded, SortedRecords, Tick, ToOrder
from engine.merge import EpochMsg
from engine.plan import INCIDENTS, Plan
from engine.stages import (
    DecodeState,
    IncidentStage,
    OrderState,
    Recall,
    fresh,
    match,
    shard_step,
)


def build_dataflow(
    plan: Plan,
    source: Source,
    partitions: list[str],
    sink: Sink,
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
    quarantine = plan.quarantine

    def decode(
        state: DecodeState | None, chunk: tuple[str, SortedRecords | Arrivals]
    ) -> tuple[DecodeState, list[Decoded]]:
        if fresh(state, DecodeState):
            state = DecodeState()
        partition, records = chunk
        return state, [state.step(partition, records)]

    def match_chunk(kv: tuple[str, Decoded]) -> list[tuple[str, ToOrder]]:
        return match(plan, kv[1], live=live)

    def order(state: OrderState | None, batch: ToOrder) -> tuple[OrderState, list[Any]]:
        if fresh(state, OrderState):
            state = OrderState(plan, partitions, live)
        return state, state.step(plan, batch, recall)

    def correlate_and_detect(state: Any, routed: tuple[str, EpochMsg]) -> tuple[Any, list[Any]]:
        shard, msg = routed
        started = time.perf_counter()
        state, out = shard_step(plan, shard, state, msg)
        if shard_timer is not None:
            shard_timer(shard, time.perf_counter() - started)
        return state, [out]

    def incidents(state: IncidentStage | None, msg: EpochMsg | Tick) -> tuple[IncidentStage, list]:
        if not isinstance(state, IncidentStage):
            state = IncidentStage(plan)
        state.adapt(plan, live)
        return state, state.step(msg, quarantine)

    flow = Dataflow("spanwatch")
    arrived = op.input("read", flow, source)
    decoded = keyed_step(
        "decode",
        op.map("by_partition", arrived, _with_key),
        decode,
        persist=persist,
        quarantine=quarantine,
    )
    matched = op.flat_map("match", decoded, match_chunk)
    epochs = keyed_step("order", matched, order, persist=persist, quarantine=quarantine)
    addressed = op.map("address", epochs, _value)
    to_incidents = op.branch("incidents_or_shards", addressed, _for_incidents)
    for_shards = op.map("by_shard", to_incidents.falses, _with_key)
    shard_out = keyed_step(
        "correlate_and_detect",
        for_shards,
        correlate_and_detect,
        persist=persist,
        quarantine=quarantine,
        substitute=_empty_share,  # the incident stage still hears that the epoch is done
    )
    from_shards = op.map("from_shards", shard_out, _to_incidents)
    merged = op.merge("to_incidents", to_incidents.trues, from_shards)
    results = keyed_step("incidents", merged, incidents, persist=persist, quarantine=quarantine)
    op.output("deliver", results, sink)
    return flow


def _with_key(kv: tuple[str, Any]) -> tuple[str, tuple[str, Any]]:
    """A keyed step's function sees values only: hand it the key (partition, shard) too."""
    return kv[0], kv


def _for_incidents(kv: tuple[str, Any]) -> bool:
    return kv[0] == INCIDENTS


def _value(kv: tuple[str, tuple[str, Any]]) -> tuple[str, Any]:
    """The order stage emits (destination, message): key the message by its destination."""
    return kv[1]


def _empty_share(routed: tuple[str, EpochMsg]) -> list[EpochMsg]:
    shard, msg = routed
    return [EpochMsg(shard, msg.index, msg.watermark, [], msg.final)]


def _to_incidents(kv: tuple[str, Any]) -> tuple[str, Any]:
    return INCIDENTS, kv[1]
