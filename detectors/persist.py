"""Loading model state saved by an earlier version: fields added since take their initial value.

Detector state lives in the dataflow's snapshots, so a restart after an upgrade unpickles
models written before a field existed. The helper starts from what a fresh model with the
saved params holds, then lays the saved state over it, so no list of new fields is kept twice.
"""

from __future__ import annotations

import ctypes
from typing import Any


def restore_slots(model: Any, state: tuple[Any, dict[str, Any]]) -> None:
    """`__setstate__` for a slotted model pickled the default way (`(None, slots)`)."""
    _, saved = state
    type(model).__init__(model, saved["p"])
    for name, value in saved.items():
        setattr(model, name, value)


def packed_state(model: Any) -> tuple[Any, bytes, Any]:
    """`__getstate__` for a model of float cells and a ctypes record of its scalars."""
    return (model.cells, bytes(model.stats), model.p)


def restore_packed(model: Any, state: tuple[Any, ...], stats: type[ctypes.Structure]) -> None:
    """`__setstate__` for `packed_state`; a pair is a model saved as one float array, from
    before the record existed, which the model's `_restore_one_array` reads."""
    if len(state) == 2:
        model._restore_one_array(*state)
        return
    model.cells, saved, model.p = state
    model.stats = stats.from_buffer_copy(saved)
