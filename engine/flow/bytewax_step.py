"""A keyed stateful step for Bytewax whose state snapshots are cheap.

Bytewax's `stateful_flat_map` deep-copies the whole state at every snapshot, even when
no recovery store is configured. Our states (detector baselines, correlation windows,
the incident book) are large, so the copy would dominate a replay. This step pickles
the state only when it will be persisted, and skips the snapshot otherwise.

A step whose function raises for one value does not take the dataflow down: the value goes to
the run's quarantine (`engine.flow.quarantine`) and the step emits what `substitute(value)` says
in its place (by default nothing), keeping whatever state it had.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import bytewax.operators as op
from bytewax.operators import KeyedStream, StatefulBatchLogic

from engine.flow.quarantine import Quarantine
from engine.flow.state_pickle import load_state

Step = Callable[[Any, Any], tuple[Any, Iterable[Any]]]
Substitute = Callable[[Any], list[Any]]


class _Logic(StatefulBatchLogic[Any, Any, Any]):
    def __init__(
        self,
        name: str,
        state: Any,
        step: Step,
        persist: bool,
        quarantine: Quarantine,
        substitute: Substitute,
    ) -> None:
        self.name = name
        self.state = state
        self.step = step
        self.persist = persist
        self.quarantine = quarantine
        self.substitute = substitute

    def on_batch(self, values: list[Any]) -> tuple[list[Any], bool]:
        out: list[Any] = []
        step = self.step
        for value in values:
            ok, result = self.quarantine.run(self.name, value, partial(step, self.state, value))
            if ok and result is not None:
                self.state, emitted = result
                out.extend(emitted)
            else:
                out.extend(self.substitute(value))
        return out, StatefulBatchLogic.RETAIN

    def snapshot(self) -> bytes | None:
        if not self.persist:
            return None
        return pickle.dumps(self.state, protocol=pickle.HIGHEST_PROTOCOL)


def keyed_step(
    step_id: str,
    up: KeyedStream[Any],
    step: Step,
    *,
    persist: bool,
    quarantine: Quarantine,
    substitute: Substitute = lambda _value: [],
) -> KeyedStream[Any]:
    """Like `stateful_flat_map(step_id, up, step)`: `step(state_or_None, value) -> (state, outs)`."""

    def build(resume: bytes | None) -> _Logic:
        state = load_state(resume) if resume else None
        return _Logic(step_id, state, step, persist, quarantine, substitute)

    return op.stateful_batch(step_id, up, build)
