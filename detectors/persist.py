"""Loading model state saved by an earlier version: fields added since take their initial value.

Detector state lives in the dataflow's snapshots, so a restart after an upgrade unpickles
models written before a field existed. The helper starts from what a fresh model with the
saved params holds, then lays the saved state over it, so no list of new fields is kept twice.
"""

from __future__ import annotations

from typing import Any


def restore_slots(model: Any, state: tuple[Any, dict[str, Any]]) -> None:
    """`__setstate__` for a slotted model pickled the default way (`(None, slots)`)."""
    _, saved = state
    type(model).__init__(model, saved["p"])
    for name, value in saved.items():
        setattr(model, name, value)
