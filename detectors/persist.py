"""Loading model state saved by an earlier version: fields added since take their initial value.

Detector state lives in the dataflow's snapshots, so a restart after an upgrade unpickles
models written before a field existed. Both helpers start from what a fresh model with the
saved params holds, then lay the saved state over it, so no list of new fields is kept twice.
"""

from __future__ import annotations

from typing import Any


def restore_slots(model: Any, state: tuple[Any, dict[str, Any]]) -> None:
    """`__setstate__` for a slotted model pickled the default way (`(None, slots)`)."""
    _, saved = state
    type(model).__init__(model, saved["p"])
    for name, value in saved.items():
        setattr(model, name, value)


def restore_array(model: Any, state: tuple[Any, Any]) -> None:
    """`__setstate__` for a model saved as `(float array, params)`: a shorter array (from before
    later fields) is completed with a fresh model's initial values."""
    a, p = state
    fresh = type(model)(p).a
    if len(a) < len(fresh):
        a.extend(fresh[len(a) :])
    model.a, model.p = a, p
