"""Replay's first pass on several processes: each reads every N-th line and sorts its share.

With `--processes N`, the first pass (decoding, checking and sorting every line, about a sixth
of a one-process replay) would otherwise run in the command's own process while the cluster
waits. Instead N forks of the command read the history together: fork `i` takes every N-th
line (counted over all the files) from the `i`-th, and sorts what it decoded into its own
sorted runs with a share of the memory budget. The command then merges the runs of every fork
as its own (`ExternalSort.adopt`). The sort orders by (time, record bytes) alone, so the merged
sequence is the one a single reader gives, byte for byte; the counters add up, and the bad
lines reported are put back in the order of the lines (`Share.where`).

`--strict` stops at the first bad line, which only a single reader knows: it reads alone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.flow.items import MAX_REPORTED_BAD_LINES, RunStats
from engine.flow.local_cluster import LocalCluster
from engine.flow.run_setup import RunSetup
from engine.history_sort import HistoryPart, Share, sort_history
from replay.external_sort import ExternalSort


@dataclass
class SortedShare:
    """What one fork read: its counters, where its bad lines lie, its sorted runs."""

    stats: RunStats
    where: list[float]
    runs: list[Path]
    records: int
    runs_written: int
    cpu: float  # the fork's CPU seconds


@dataclass
class _ShareReader:
    """What each fork runs, called with its index."""

    parts: Sequence[HistoryPart]
    setup: RunSetup
    spill: Path
    budget: int
    count: int
    at: float  # one clock for every fork's check of times too far ahead

    def __call__(self, index: int) -> SortedShare:
        folder = self.spill / f"share-{index}"
        folder.mkdir()
        share = Share(index, self.count)
        sorter = ExternalSort(folder, max(1, self.budget // self.count))
        stats = sort_history(self.parts, self.setup, sorter, now=lambda: self.at, share=share)
        runs = sorter.hand_over()
        cpu = time.process_time()
        return SortedShare(stats, share.where, runs, sorter.records, sorter.runs_written, cpu)


@dataclass
class SharedPass:
    """The first pass's counters, how many sorted runs it wrote, each fork's CPU seconds."""

    stats: RunStats
    runs_written: int
    cpu: list[float]


def sort_in_shares(
    parts: Sequence[HistoryPart],
    setup: RunSetup,
    sorter: ExternalSort,
    processes: int,
    spill: Path,
) -> SharedPass:
    """Read and sort `parts` on `processes` forks; `sorter` then merges their runs.

    Raises ClusterError when a fork fails (its one line says why)."""
    reader = _ShareReader(parts, setup, spill, sorter.memory_budget, processes, time.time())
    with LocalCluster(processes, spill, reader) as cluster:
        cluster.start()
        shares: list[SortedShare] = cluster.wait()
    for share in shares:
        sorter.adopt(share.runs, share.records)
    return SharedPass(
        merged_stats(shares), sum(s.runs_written for s in shares), [s.cpu for s in shares]
    )


def merged_stats(shares: Sequence[SortedShare]) -> RunStats:
    """Every share's counters added up, with the first bad lines in the order of the lines."""
    total = RunStats()
    for share in shares:
        total.merge(RunStats(**{**vars(share.stats), "bad_examples": []}))
    reported = sorted(
        (where, example)
        for share in shares
        for where, example in zip(share.where, share.stats.bad_examples, strict=True)
    )
    total.bad_examples = [example for _where, example in reported[:MAX_REPORTED_BAD_LINES]]
    return total
