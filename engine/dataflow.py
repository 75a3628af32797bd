"""The dataflow, read top to bottom like the data flow in DESIGN.md.

read ─ decode (per file: OTLP -> events -> rule matches, routed items)
     ─ order (one merge point: event time, bounded lateness, epochs)
     ─┬─ incidents' share of each epoch ─────────────────────────────┐
      └─ correlate_and_detect (keyed shards: windows, rollups, detectors) ─┤
                                                                     ▼
                           incidents (epoch merge, incident book) ─ results
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink

from engine.bw import keyed_step
from engine.plan import INCIDENTS, Plan
from engine.sources import HistorySource, Part
from engine.stages import Abort, DecodeState, IncidentStage, LineChunk, OrderState, shard_step


def build_dataflow(
    plan: Plan,
    parts: list[Part],
    sink: Sink,
    *,
    source: Source | None = None,
    abort: Abort | None = None,
    persist: bool = False,
) -> Dataflow:
    """`parts` describe the source's partitions (history files by default).

    `source`: another source over the same partitions (the live inbox);
    `persist`: snapshot state for Bytewax recovery (the live engine); replay does not.
    """
    by_index = {p.index: p for p in parts}

    def decode(state: DecodeState | None, chunk: LineChunk) -> tuple[DecodeState, list[Any]]:
        if state is None:
            part = by_index[chunk.partition]
            state = DecodeState(part.index, part.file.display, part.is_control, abort)
        batch = state.step(plan, chunk)
        return state, [(batch, state.stats if chunk.done else None)]

    def order(state: OrderState | None, item: tuple[Any, Any]) -> tuple[OrderState, list[Any]]:
        if state is None:
            state = OrderState(plan, len(parts))
        batch, stats = item
        return state, state.step(plan, batch, stats)

    def correlate_and_detect(state: Any, routed: tuple[str, Any]) -> tuple[Any, list[Any]]:
        shard, msg = routed
        state, out = shard_step(plan, shard, state, msg)
        return state, [out]

    def incidents(state: IncidentStage | None, msg: Any) -> tuple[IncidentStage, list[Any]]:
        if state is None:
            state = IncidentStage(plan)
        return state, state.step(msg)

    flow = Dataflow("spanwatch")
    lines = op.input("read", flow, source or HistorySource(parts, abort))
    batches = keyed_step("decode", lines, decode, persist=persist)
    to_order = op.map("to_order", batches, _rekey("order"))
    epochs = keyed_step("order", to_order, order, persist=persist)
    routed = op.map("route", epochs, lambda kv: (kv[1][0], kv[1]))
    split = op.branch("split", routed, lambda kv: kv[0] == INCIDENTS)
    from_order = op.map("order_share", split.trues, lambda kv: (INCIDENTS, kv[1][1]))
    shard_out = keyed_step(
        "correlate_and_detect", split.falses, correlate_and_detect, persist=persist
    )
    from_shards = op.map("shard_share", shard_out, _rekey(INCIDENTS))
    merged = op.merge("merge", from_order, from_shards)
    results = keyed_step("incidents", merged, incidents, persist=persist)
    op.output("results", results, sink)
    return flow


def _rekey(key: str) -> Callable[[tuple[str, Any]], tuple[str, Any]]:
    def rekey(kv: tuple[str, Any]) -> tuple[str, Any]:
        return key, kv[1]

    return rekey
