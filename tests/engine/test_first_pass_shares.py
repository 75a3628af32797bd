"""Replay's first pass read by several processes gives what one reader gives.

Each share takes every N-th line over all the files and sorts it into runs of its own; merged,
the runs are the single reader's sequence, and the counters and the bad lines reported (in the
order of the lines, the first hundred) are the single reader's too.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import SpanwatchConfig
from engine.first_pass_shares import SortedShare, merged_stats
from engine.flow.items import MAX_REPORTED_BAD_LINES
from engine.flow.run_setup import RunSetup
from engine.history_sort import HistoryPart, Share, sort_history
from engine.replay_run import ReplayOptions, run_replay
from replay.external_sort import ExternalSort
from replay.readers import expand_paths
from replay.simulator.simulate import SimulationSpec, simulate

NOW = 2_000_000_000.0
BAD = [b"not json", b'{"resourceSpans": [', b"[1, 2", b'{"time": "yesterday"}']
CONTROL = [
    b'{"at": "2026-01-01T00:00:00Z", "kind": "ack", "target": "x-1", "by": "ann"}',
    b'{"kind": "nonsense"}',
]


@pytest.fixture(scope="module")
def lines(tmp_path_factory) -> list[bytes]:
    path = tmp_path_factory.mktemp("h") / "h.jsonl"
    simulate(SimulationSpec(days=1, users=4, seed=41, claude_code_logs=True), path)
    return path.read_bytes().splitlines()


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> RunSetup:
    return RunSetup(SpanwatchConfig(state_dir=str(tmp_path_factory.mktemp("s"))))


def history(lines: list[bytes], rng: random.Random, folder: Path) -> list[HistoryPart]:
    """Some lines, bad lines and repeated lines among them, in 1-3 files (plain or gzip, one
    gzip perhaps cut short), and a control file."""
    picked = rng.sample(lines, min(len(lines), rng.randint(5, 60)))
    picked += rng.choices(BAD, k=rng.randint(0, 130)) + rng.choices(picked, k=rng.randint(0, 5))
    rng.shuffle(picked)
    cuts = sorted(rng.randint(0, len(picked)) for _ in range(rng.randint(0, 2)))
    for i, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(picked)], strict=True)):
        body = b"".join(line + b"\n" for line in picked[a:b])
        if rng.random() < 0.4:
            packed = gzip.compress(body, mtime=0)
            cut = rng.choice([len(packed), len(packed) * 3 // 4])
            (folder / f"part-{i}.jsonl.gz").write_bytes(packed[:cut])
        else:
            (folder / f"part-{i}.jsonl").write_bytes(body)
    control = folder / "control" / "acks.jsonl"
    control.parent.mkdir()
    control.write_bytes(b"".join(rng.choice(CONTROL) + b"\n" for _ in range(rng.randint(0, 4))))
    files = expand_paths([str(p) for p in sorted(folder.glob("part-*"))])
    return [HistoryPart(f) for f in files] + [
        HistoryPart(f, is_control=True) for f in expand_paths([str(control)])
    ]


def read_in_shares(parts, setup, count: int, folder: Path) -> tuple[list, object]:
    """Each share read into its own small sort (so that it spills), then merged as one."""
    shares = []
    for index in range(count):
        (folder / f"share-{index}").mkdir()
        sorter = ExternalSort(folder / f"share-{index}", memory_budget=4_000)
        share = Share(index, count)
        stats = sort_history(parts, setup, sorter, now=lambda: NOW, share=share)
        runs = sorter.hand_over()
        shares.append(SortedShare(stats, share.where, runs, sorter.records, 0, 0.0))
    with ExternalSort(folder, memory_budget=4_000) as merged:
        for share in shares:
            merged.adopt(share.runs, share.records)
        return list(merged.merged()), merged_stats(shares)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32), count=st.integers(2, 4))
def test_shares_merge_to_the_single_readers_sequence_and_counters(
    lines, setup, tmp_path_factory, seed, count
):
    folder = tmp_path_factory.mktemp("shares")
    parts = history(lines, random.Random(seed), folder)
    with ExternalSort(folder, memory_budget=1 << 20) as alone:
        expected_stats = sort_history(parts, setup, alone, now=lambda: NOW)
        expected = list(alone.merged())
    records, stats = read_in_shares(parts, setup, count, folder)
    assert records == expected
    assert stats == expected_stats


def test_the_first_hundred_bad_lines_are_the_single_readers(lines, setup, tmp_path):
    body = b"".join(b"%d is not json\n" % i for i in range(3 * MAX_REPORTED_BAD_LINES))
    (tmp_path / "bad.jsonl").write_bytes(body + lines[0] + b"\n")
    parts = [HistoryPart(f) for f in expand_paths([str(tmp_path / "bad.jsonl")])]
    _records, stats = read_in_shares(parts, setup, 3, tmp_path)
    assert stats.bad_lines == 3 * MAX_REPORTED_BAD_LINES
    assert [e.split(":")[1] for e in stats.bad_examples] == [
        str(n) for n in range(1, MAX_REPORTED_BAD_LINES + 1)
    ]


def test_two_processes_report_the_bad_lines_one_reports(lines, tmp_path):
    """Through the command's own path: forks read the shares; same log, same counters."""
    rng = random.Random(7)
    picked = lines[:200] + BAD * 3 + lines[:3]
    rng.shuffle(picked)
    folder = tmp_path / "history"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(b"".join(x + b"\n" for x in picked[:120]))
    (folder / "b.jsonl.gz").write_bytes(gzip.compress(b"".join(x + b"\n" for x in picked[120:])))
    found = {}
    for processes in (1, 2):
        out = tmp_path / f"p{processes}.jsonl"
        report = run_replay(
            SpanwatchConfig(state_dir=str(tmp_path / "state")),
            ReplayOptions(paths=[str(folder)], out=str(out), processes=processes),
        )
        found[processes] = (out.read_bytes(), report.result.summary.stats)
    assert found[2] == found[1]
    assert found[1][1]["bad_lines"] == 3 * len(BAD) and found[1][1]["duplicates"] >= 1
