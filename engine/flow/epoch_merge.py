"""Where the incident stage waits for every upstream stage to finish an epoch.

Upstream stages run on different workers, so their messages interleave differently on
every run; the incident stage only acts on an epoch once all of them have sent it, and
then in one fixed order. Determinism with any number of workers rests on this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class EpochMsg:
    """One stage's share of one epoch."""

    source: str
    index: int
    watermark: float
    items: list[Any]
    final: bool = False
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class CompleteEpoch:
    index: int
    watermark: float
    by_source: dict[str, list[Any]]
    final: bool
    stats: dict[str, dict[str, Any]]


class EpochMerger:
    """Collects EpochMsgs until every source has sent an epoch; returns complete epochs in order."""

    def __init__(self, sources: list[str]) -> None:
        self.sources = list(sources)
        self.pending: dict[int, dict[str, EpochMsg]] = {}
        self.next_index = 1

    def add(self, msg: EpochMsg) -> list[CompleteEpoch]:
        if msg.source not in self.sources:
            raise ValueError(f"unknown source {msg.source!r}")
        self.pending.setdefault(msg.index, {})[msg.source] = msg
        done: list[CompleteEpoch] = []
        while len(self.pending.get(self.next_index, ())) == len(self.sources):
            parts = self.pending.pop(self.next_index)
            first = parts[self.sources[0]]
            done.append(
                CompleteEpoch(
                    index=self.next_index,
                    watermark=first.watermark,
                    by_source={s: parts[s].items for s in self.sources},
                    final=first.final,
                    stats={s: parts[s].stats for s in self.sources if parts[s].stats},
                )
            )
            self.next_index += 1
        return done
