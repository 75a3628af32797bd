"""Other shapes of the same OTLP/JSON history for order-invariance tests: batches in end-time
order, as a Collector's exporter sends them, and random batches of shuffled records."""

from __future__ import annotations

import random
from collections.abc import Iterable

from replay.simulator.rebatch import ScopedRecord, to_lines


def by_end_time(all_records: Iterable[ScopedRecord], batch_size: int = 64) -> list[bytes]:
    """Batches of up to `batch_size` records in end-time order, as a Collector's exporter sends."""
    ordered = sorted(all_records, key=lambda r: r.end)
    return [
        line
        for i in range(0, len(ordered), batch_size)
        for line in to_lines(ordered[i : i + batch_size])
    ]


def at_random(
    all_records: Iterable[ScopedRecord], rng: random.Random, max_batch: int = 16
) -> list[bytes]:
    """The records shuffled into batches of random sizes: no order anyone would choose."""
    shuffled = list(all_records)
    rng.shuffle(shuffled)
    out: list[bytes] = []
    i = 0
    while i < len(shuffled):
        n = rng.randint(1, max_batch)
        out.extend(to_lines(shuffled[i : i + n]))
        i += n
    return out
