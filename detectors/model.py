"""The two records that cross the dataflow: what an event contributes, and what a detector says."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

SEVERITIES = ("info", "low", "medium", "high", "critical")


# What a detector state counts (its `stats`): inputs, what was left out and why, and output.
STAT_NAMES = (
    "observations",
    "late",
    "bad_value",
    "bad_time",
    "windows",
    "points",
    "signals",
    "evictions",
    "skipped_windows",
    "duplicates",
)


class Observation(NamedTuple):
    """What the stateless routing stage forwards to one detector's state for one event.

    `value` is what the rollup needs from the event: a number for numeric aggregations,
    1.0/0.0 for the truth of a rate/ratio condition, the field's text for `distinct` and
    `new_value`, 1.0 for `count`. A detector of several metrics gets one value per metric in
    `values` instead (`value` is None). `parent` holds the parent-baseline label values;
    `dedup`, for a detector that deduplicates, the event's `by` value and whether it is the
    preferred kind of event.
    """

    detector_id: str
    time: float
    group: tuple[str, ...]
    value: float | str | None = None
    parent: tuple[str, ...] = ()
    values: tuple[float | str | None, ...] | None = None
    dedup: tuple[str, bool] | None = None


@dataclass(frozen=True)
class Signal:
    """A detector's verdict on one key for one closed window, consumed by the incident stage.

    `firing` is True once per interval while the key is firing, then exactly one False
    when it resolves. `time` is the end of the window that produced it (event time).
    """

    detector_id: str
    title: str
    severity: str
    time: float
    group: dict[str, str]
    score: float
    firing: bool
    labels: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    runbook: str | None = None
    noise_budget: int | None = None  # None: the global budget; 0: none
    # How long the incident may go without a signal before it resolves by itself (None: the
    # incidents' resolve_timeout). A firing key signals once a window, so a detector of long
    # windows asks for two of them: its incident must not resolve between two signals and
    # open again with the next one.
    resolve_after: float | None = None
