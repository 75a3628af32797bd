"""An epoch's observations of one detector, taken per key and window rather than per event.

`DetectorState.take` finds the key's model and window entry for every observation. A key is
usually seen several times in an epoch, so the epoch's observations are first grouped by where
they go (window start, key, and the `by` value of a deduplicated one that is held back), each
group keeping its values in order; then each key is touched once and each group's values are
added to its accumulators in order. The state ends as taking the observations one by one
leaves it: the same keys in the same least-recently-seen order, the same window entries made
in the same order with the same parents, the same values added in the same order to each
accumulator. Two cases keep the one-by-one path: a percentile metric (its reservoir sampling
draws from the detector's one random stream, so the order across keys matters) and a batch
whose new keys could evict one (`max_keys`: which key goes depends on the moment).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from detectors.model import Observation
from detectors.rollup import PERCENTILES

# where a group of observations goes: (window start, key, `by` of a held-back one or None)
Target = tuple[float, tuple[str, ...], str | None]


@dataclass(slots=True)
class Grouped:
    """What an epoch's observations do to a state, before any of it is done."""

    groups: dict[Target, tuple[tuple[str, ...], list[Any]]] = field(default_factory=dict)
    first_parent: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    last_seen: dict[tuple[str, ...], None] = field(default_factory=dict)
    preferred: dict[tuple[float, str], None] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    next_start: float | None = None
    first_time: float | None = None
    rejected: list[tuple[Observation, Exception]] = field(default_factory=list)


def batchable(aggregations: tuple[str, ...]) -> bool:
    """Whether a detector's metrics leave nothing to the order across keys."""
    return not any(a in PERCENTILES for a in aggregations)


def count(grouped: Grouped, name: str) -> None:
    grouped.counts[name] = grouped.counts.get(name, 0) + 1


def place(
    grouped: Grouped,
    start: float,
    obs: tuple[Any, ...],
    taken: tuple[Any, ...],
) -> None:
    """One valid observation's values into its group; its key seen now."""
    _id, _t, key, _value, parent, _values, mark = obs
    by = None if mark is None or mark[1] else mark[0]
    if mark is not None and mark[1]:
        grouped.preferred[(start, mark[0])] = None
    target = (start, key, by)
    group = grouped.groups.get(target)
    if group is None:
        grouped.groups[target] = (parent, [taken])
    else:
        group[1].append(taken)
    grouped.first_parent.setdefault(key, parent)
    last_seen = grouped.last_seen
    if key in last_seen:
        del last_seen[key]
    last_seen[key] = None
