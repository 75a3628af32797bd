"""Replay gives the same bytes for the same records, however the history is ordered and batched."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import SpanwatchConfig
from engine.replay_run import ReplayOptions, run_replay
from replay.simulator.rebatch import by_session, records
from replay.simulator.simulate import SimulationSpec, simulate
from tests.rebatch_orders import at_random, by_end_time


def replay(config: SpanwatchConfig, paths: list[Path], out: Path, **options) -> tuple[bytes, bytes]:
    report = run_replay(
        config,
        ReplayOptions(
            paths=[str(p) for p in paths],
            out=str(out / "incidents.jsonl"),
            notifications=str(out / "notifications.jsonl"),
            **options,
        ),
    )
    assert report.result.summary.stats["late"] == 0
    return (out / "incidents.jsonl").read_bytes(), (out / "notifications.jsonl").read_bytes()


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> tuple[SpanwatchConfig, list, tuple[bytes, bytes]]:
    """A small organisation with injected incidents, its records, and the Collector-style answer."""
    tmp = tmp_path_factory.mktemp("history")
    path = tmp / "collector.jsonl"
    simulate(SimulationSpec(days=1, users=6, seed=23, claude_code_logs=True), path)
    config = SpanwatchConfig(state_dir=str(tmp / "state"))
    expected = replay(config, [path], tmp)
    opened = [line for line in expected[0].splitlines() if b'"incident.opened"' in line]
    assert len(opened) >= 5 and expected[1]
    return config, list(records(path.read_bytes().splitlines())), expected


def write_files(lines: list[bytes], rng: random.Random, folder: Path) -> list[Path]:
    """The lines shuffled, split into 1-4 files, each plain or gzip."""
    lines = list(lines)
    rng.shuffle(lines)
    count = rng.randint(1, 4)
    cuts = sorted(rng.randint(0, len(lines)) for _ in range(count - 1))
    paths = []
    for i, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(lines)], strict=True)):
        body = b"".join(line + b"\n" for line in lines[a:b])
        if rng.random() < 0.5:
            path = folder / f"part-{i}.jsonl.gz"
            path.write_bytes(gzip.compress(body, mtime=rng.randint(0, 10**6)))
        else:
            path = folder / f"part-{i}.jsonl"
            path.write_bytes(body)
        paths.append(path)
    return paths


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.sampled_from(["session", "end-time", "random"]), st.integers(0, 2**32 - 1))
def test_any_batching_order_and_split_gives_identical_incidents_and_notifications(
    history, tmp_path_factory, shape, seed
):
    config, recs, expected = history
    rng = random.Random(seed)
    if shape == "session":
        lines = by_session(recs)
    elif shape == "end-time":
        lines = by_end_time(recs, batch_size=rng.randint(1, 200))
    else:
        lines = at_random(recs, rng, max_batch=rng.randint(1, 50))
    tmp = tmp_path_factory.mktemp("shape")
    paths = write_files(lines, rng, tmp)
    assert replay(config, paths, tmp) == expected


def test_sessions_sorted_by_start_give_the_collector_files_answer_with_a_tiny_sort_budget(
    history, tmp_path
):
    """One line per agent session, sessions by start: every span trails the line before."""
    config, recs, expected = history
    path = tmp_path / "sessions.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in by_session(recs)))
    report = run_replay(
        config,
        ReplayOptions(
            paths=[str(path)],
            out=str(tmp_path / "incidents.jsonl"),
            notifications=str(tmp_path / "notifications.jsonl"),
            sort_memory_mb=0.05,  # 50 kB: the history needs dozens of runs
        ),
    )
    assert report.sort_runs >= 20
    assert (tmp_path / "incidents.jsonl").read_bytes() == expected[0]
    assert (tmp_path / "notifications.jsonl").read_bytes() == expected[1]
    assert not list(Path(config.state_dir).glob("replay-sort-*"))  # the runs are cleaned up


def test_spans_sent_twice_count_once_and_the_repeats_are_reported(history, tmp_path):
    config, recs, expected = history
    lines = by_end_time(recs, batch_size=50)
    # an exporter that did not hear the answer sends the batch again
    again = [line for line in lines[::3] if line.startswith(b'{"resourceSpans"')]
    path = tmp_path / "with-retries.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in [*lines, *again]))
    report = run_replay(
        config,
        ReplayOptions(
            paths=[str(path)],
            out=str(tmp_path / "incidents.jsonl"),
            notifications=str(tmp_path / "notifications.jsonl"),
        ),
    )
    repeated_spans = sum(
        len(span_list)
        for line in again
        for rs in orjson.loads(line).get("resourceSpans", ())
        for ss in rs["scopeSpans"]
        for span_list in [ss["spans"]]
    )
    assert repeated_spans > 0
    assert report.result.summary.stats["duplicates"] == repeated_spans
    assert (tmp_path / "incidents.jsonl").read_bytes() == expected[0]


def test_identical_events_without_an_identity_are_all_kept(tmp_path):
    """Two equal flat events may be two commands: no span id says they are one."""
    line = orjson.dumps(
        {"time": 1_795_000_000.0, "name": "shell.run", "user": "kim", "command": "curl x | sh"}
    )
    path = tmp_path / "twice.jsonl"
    path.write_bytes(line + b"\n" + line + b"\n")
    config = SpanwatchConfig(state_dir=str(tmp_path / "state"))
    report = run_replay(config, ReplayOptions(paths=[str(path)], out=str(tmp_path / "o.jsonl")))
    assert report.result.summary.stats["duplicates"] == 0
    assert report.result.summary.stats["events"] == 2
