"""A keyed stateful step for Bytewax whose state snapshots are cheap.

Bytewax's `stateful_flat_map` deep-copies the whole state at every snapshot, even when
no recovery store is configured. Our states (detector baselines, correlation windows,
the incident book) are large, so the copy would dominate a replay. This step pickles
the state only when it will be persisted, and skips the snapshot otherwise.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable
from typing import Any

import bytewax.operators as op
from bytewax.operators import KeyedStream, StatefulBatchLogic

Step = Callable[[Any, Any], tuple[Any, Iterable[Any]]]


class _Logic(StatefulBatchLogic):
    def __init__(self, state: Any, step: Step, persist: bool) -> None:
        self.state = state
        self.step = step
        self.persist = persist

    def on_batch(self, values: list[Any]) -> tuple[list[Any], bool]:
        out: list[Any] = []
        state, step = self.state, self.step
        for value in values:
            state, emitted = step(state, value)
            out.extend(emitted)
        self.state = state
        return out, StatefulBatchLogic.RETAIN

    def snapshot(self) -> bytes | None:
        if not self.persist:
            return None
        return pickle.dumps(self.state, protocol=pickle.HIGHEST_PROTOCOL)


def keyed_step(
    step_id: str, up: KeyedStream[Any], step: Step, *, persist: bool
) -> KeyedStream[Any]:
    """Like `stateful_flat_map(step_id, up, step)`: `step(state_or_None, value) -> (state, outs)`."""

    def build(resume: bytes | None) -> _Logic:
        state = pickle.loads(resume) if resume else None  # noqa: S301 - our own recovery store
        return _Logic(state, step, persist)

    return op.stateful_batch(step_id, up, build)
