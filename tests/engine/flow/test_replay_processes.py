"""`spanwatch replay --processes N`: a Bytewax cluster of local processes, the same bytes.

The history is cut into one partition per worker of the cluster; each process decodes and
matches its own partitions, the keyed shards spread over the processes, and one process writes
the incident log. A process that dies fails the run at once, with which one and how.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.config import SpanwatchConfig
from engine.flow.local_cluster import ClusterError, LocalCluster, free_loopback_addresses
from engine.flow.replay_source import read_partition, split_history
from engine.replay_run import ReplayError, ReplayOptions, run_replay
from replay.simulator.shape import OrgShape
from replay.simulator.simulate import SimulationSpec, simulate


def test_two_processes_write_what_one_writes(tmp_path):
    """Sessions exported straight from agents, eight time zones, mixed spellings: the log and
    the notifications are byte-identical, and only one process wrote them."""
    history = tmp_path / "history.jsonl.gz"
    simulate(
        SimulationSpec(
            days=1,
            users=9,
            seed=23,
            kinds="all",
            shape=OrgShape(spelling="mixed", export="both", zones="global", batching="session"),
        ),
        history,
    )
    runs = {}
    for processes, workers in ((1, 1), (2, 1), (2, 2)):
        out = tmp_path / f"p{processes}w{workers}"
        out.mkdir()
        config = SpanwatchConfig(state_dir=str(out / "state"))
        report = run_replay(
            config,
            ReplayOptions(
                paths=[str(history)],
                out=str(out / "incidents.jsonl"),
                notifications=str(out / "notifications.jsonl"),
                processes=processes,
                workers=workers,
            ),
        )
        log = (out / "incidents.jsonl").read_bytes()
        assert report.result.log_lines == log.count(b"\n")
        runs[(processes, workers)] = (
            log,
            (out / "notifications.jsonl").read_bytes(),
            report.result.summary.stats["events"],
            dict(report.result.summary.incidents_opened),
        )
    assert runs[(1, 1)][0].count(b"incident.opened") >= 2
    assert runs[(2, 1)] == runs[(1, 1)]
    assert runs[(2, 2)] == runs[(1, 1)]


def test_a_killed_process_fails_the_run_without_hanging(tmp_path):
    history = tmp_path / "history.jsonl.gz"
    simulate(SimulationSpec(days=1, users=8, seed=5), history)
    config = SpanwatchConfig(state_dir=str(tmp_path / "state"))
    failure: list[BaseException] = []

    def replay() -> None:
        try:
            run_replay(
                config,
                ReplayOptions(paths=[str(history)], out=str(tmp_path / "o.jsonl"), processes=2),
            )
        except BaseException as exc:
            failure.append(exc)

    runner = threading.Thread(target=replay)
    runner.start()
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and runner.is_alive() and time.monotonic() < deadline:
        children = multiprocessing.active_children()
        if len(children) == 2:
            victim = children[1].pid
            os.kill(victim, signal.SIGKILL)
        time.sleep(0.005)
    runner.join(timeout=120)
    assert not runner.is_alive()
    assert victim is not None
    assert len(failure) == 1 and isinstance(failure[0], ReplayError)
    assert "of 2 failed (killed by SIGKILL)" in str(failure[0])
    assert multiprocessing.active_children() == []


def _fails(process_id: int) -> str:
    if process_id == 1:
        raise ValueError("the partition file is gone\nsecond line")
    time.sleep(60)  # the other process would wait for its peer forever
    return "never"


def test_an_error_in_one_process_is_one_line_and_stops_the_others(tmp_path):
    started = time.monotonic()
    with LocalCluster(2, tmp_path, _fails) as cluster:
        cluster.start()
        with pytest.raises(ClusterError) as caught:
            cluster.wait()
    assert str(caught.value) == (
        "replay process 1 of 2 failed (an error: ValueError: the partition file is gone)"
    )
    assert time.monotonic() - started < 30
    assert all(p.exitcode is not None for p in cluster.procs)


def test_every_process_reports_its_result(tmp_path):
    with LocalCluster(3, tmp_path, lambda i: {"id": i}) as cluster:
        cluster.start()
        assert cluster.wait() == [{"id": 0}, {"id": 1}, {"id": 2}]


def test_loopback_addresses_differ():
    addresses = free_loopback_addresses(4)
    assert len(set(addresses)) == 4
    assert all(a.startswith("127.0.0.1:") for a in addresses)


records = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=2e9, allow_nan=False),
        st.sampled_from([b"\x00a", b"\x00b", b"\x01c", b"\x02d", b"\x00" + b"x" * 300]),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(records, st.integers(min_value=1, max_value=5))
def test_partitions_hold_every_record_once_in_order_with_equal_records_together(
    tmp_path_factory, pairs, count
):
    folder = tmp_path_factory.mktemp("parts")
    ordered = sorted(pairs)
    paths = [Path(folder) / f"p{i}" for i in range(count)]
    assert split_history(iter(ordered), paths) == len(ordered)
    parts = [list(read_partition(p)) for p in paths]
    merged = sorted(item for part in parts for item in part)
    assert [(t, r) for t, _seq, r in sorted(merged, key=lambda x: x[1])] == ordered
    assert [seq for _t, seq, _r in sorted(merged, key=lambda x: x[1])] == list(
        range(1, len(ordered) + 1)
    )
    for part in parts:
        assert [seq for _t, seq, _r in part] == sorted(seq for _t, seq, _r in part)
    homes = {}
    for i, part in enumerate(parts):
        for _t, _seq, record in part:
            assert homes.setdefault(record, i) == i
