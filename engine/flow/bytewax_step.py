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
from typing import Generic, TypeVar

import bytewax.operators as op
from bytewax.operators import KeyedStream, StatefulBatchLogic

from engine.flow.quarantine import Quarantine
from engine.flow.state_pickle import load_state

StateT = TypeVar("StateT")  # the step's state
ValueT = TypeVar("ValueT")  # what comes in
OutT = TypeVar("OutT")  # what goes out

Step = Callable[[StateT | None, ValueT], tuple[StateT, Iterable[OutT]]]
"""`step(state_or_None, value) -> (state, outs)`: None before the key's first value."""
Substitute = Callable[[ValueT], list[OutT]]


class _Logic(StatefulBatchLogic[ValueT, OutT, bytes | None], Generic[StateT, ValueT, OutT]):
    def __init__(
        self,
        name: str,
        state: StateT | None,
        step: Step[StateT, ValueT, OutT],
        persist: bool,
        quarantine: Quarantine,
        substitute: Substitute[ValueT, OutT],
    ) -> None:
        self.name = name
        self.state = state
        self.step = step
        self.persist = persist
        self.quarantine = quarantine
        self.substitute = substitute

    def on_batch(self, values: list[ValueT]) -> tuple[list[OutT], bool]:
        out: list[OutT] = []
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


def _nothing(_value: object) -> list[OutT]:
    return []


def keyed_step(
    step_id: str,
    up: KeyedStream[ValueT],
    step: Step[StateT, ValueT, OutT],
    *,
    persist: bool,
    quarantine: Quarantine,
    substitute: Substitute[ValueT, OutT] = _nothing,
) -> KeyedStream[OutT]:
    """Like `stateful_flat_map(step_id, up, step)`: `step(state_or_None, value) -> (state, outs)`.

    `step_id` keys the step's snapshots in a recovery store: renaming it starts the step afresh.
    """

    def build(resume: bytes | None) -> _Logic[StateT, ValueT, OutT]:
        state = load_state(resume) if resume else None
        return _Logic(step_id, state, step, persist, quarantine, substitute)

    return op.stateful_batch(step_id, up, build)
