"""Unpickling the dataflow's snapshots, including those written before its modules moved.

A snapshot names each class of its state by module path. The dataflow's modules once lived
directly under `engine/` (`engine.stages`, `engine.plan`, ...); a live engine restarted on a
recovery folder written then must still find its shards, order and incident book, so those
paths are read as the modules that hold the same classes now (likewise the incident book's
routing tree, once `engine.incidents.routing`, and the live order stage's source clocks, once
`engine.live.watermarks`).
"""

from __future__ import annotations

import io
import pickle
from typing import Any

# Where each module of the dataflow's state lives now, by the path older snapshots name.
MOVED_MODULES = {
    "engine.stages": "engine.flow.steps",
    "engine.plan": "engine.flow.run_setup",
    "engine.items": "engine.flow.items",
    "engine.ordering": "engine.flow.event_order",
    "engine.merge": "engine.flow.epoch_merge",
    "engine.quarantine": "engine.flow.quarantine",
    "engine.source_clocks": "engine.flow.source_clocks",
    "engine.live.watermarks": "engine.flow.source_clocks",
    "engine.incidents.routing": "engine.incidents.route_tree",
}


class _StateUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(MOVED_MODULES.get(module, module), name)


def load_state(blob: bytes) -> Any:
    """The state pickled in `blob`, whichever module layout wrote it (our own recovery store)."""
    return _StateUnpickler(io.BytesIO(blob)).load()
