"""How long a test waits for something it expects soon, on a machine that may be very busy.

A test waits for a condition, never for a fixed time: it goes on the moment the condition
holds, so a generous bound costs a passing run nothing and only a broken run waits it out.
The bound is meant to survive a shared two-core CI machine at its worst (a start of the engine
that takes a few seconds alone can take tens of seconds there).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

PATIENCE = 180.0  # seconds

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], what: str, bound: float = PATIENCE, every: float = 0.05
) -> T:
    """The predicate's first true value; AssertionError naming `what` once `bound` is over."""
    deadline = time.monotonic() + bound
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {bound:.0f} s waiting for {what}")
        time.sleep(every)
