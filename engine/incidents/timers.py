"""The book's timers: one heap of (due, kind, key), re-armed or cancelled by key.

A timer fires at its own due time even when the clock jumps past several of them, in the
order (due, kind, key), so extra clock ticks between the same inputs change nothing. Re-arming
a (kind, key) supersedes the earlier one: its heap entry stays but no longer fires.
"""

from __future__ import annotations

import heapq
from typing import NamedTuple

# Timer kinds, in the order they fire when due at the same instant.
RESOLVE, FLUSH, ESCALATE, FORGET, DIGEST = 0, 1, 2, 3, 4


TimerEntry = tuple[float, int, str, int]  # (due, kind, key, serial) on the heap


class Due(NamedTuple):
    """A timer that fired: when it was due, its kind and the key it was armed for."""

    at: float
    kind: int
    key: str


class Timers:
    """Timers by (kind, key); a serial number tells the live entry from superseded ones."""

    def __init__(self) -> None:
        self._heap: list[TimerEntry] = []
        self._tokens: dict[tuple[int, str], int] = {}
        self._serial = 0

    @classmethod
    def restore(
        cls, heap: list[TimerEntry], tokens: dict[tuple[int, str], int], serial: int
    ) -> Timers:
        """Timers from the heap, live tokens and serial number a book once kept itself."""
        timers = cls()
        timers._heap, timers._tokens, timers._serial = heap, tokens, serial
        return timers

    def schedule(self, kind: int, key: str, due: float) -> None:
        """Arm (or re-arm) the (kind, key) timer for `due`."""
        self._serial += 1
        self._tokens[(kind, key)] = self._serial
        heapq.heappush(self._heap, (due, kind, key, self._serial))

    def cancel(self, kind: int, key: str) -> None:
        self._tokens.pop((kind, key), None)

    def pop_due(self, until: float) -> Due | None:
        """The earliest live timer due by `until`, disarmed; None when there is none."""
        while self._heap and self._heap[0][0] <= until:
            due, kind, key, token = heapq.heappop(self._heap)
            if self._tokens.get((kind, key)) == token:
                del self._tokens[(kind, key)]
                return Due(due, kind, key)
        return None

    def pop_same(self, first: Due) -> list[str]:
        """`first`'s key and those of every other live timer of its kind due at the same time."""
        keys = [first.key]
        while self._heap and self._heap[0][:2] == (first.at, first.kind):
            _, kind, key, token = heapq.heappop(self._heap)
            if self._tokens.get((kind, key)) == token:
                del self._tokens[(kind, key)]
                keys.append(key)
        return keys
