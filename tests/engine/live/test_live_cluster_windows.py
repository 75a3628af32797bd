"""Windowed incidents of the live engine do not depend on the number of processes: one engine
and a cluster of two read the same messages of a four-partition topic of librdkafka's mock
cluster (event times out of order across partitions and, within a partition, some by less and
some by more than the allowed lateness) and open the same detector and correlation incidents,
line for line but for the wall-clock time of each transition."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import httpx
from confluent_kafka import Producer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from engine.timeutil import parse_time
from tests.patience import PATIENCE, wait_until

from ..test_kafka_source import kafka  # noqa: F401 - the fixture
from ..test_live_engine import Engine

PARTITIONS = 4  # the mock cluster's default for a topic made by its first message
LATENESS = 30.0
MINUTES = 24
USERS = [f"win-{n}" for n in range(6)]
SURGING = {"win-1": 19, "win-4": 21}  # user -> the minute their commands surge
STREAM = f"{{allowed_lateness: {LATENESS:g}, tick: 1, heartbeat: 5, idle_timeout: 3600}}"
DETECTORS = """
detectors:
  - id: commands-per-user
    kind: ewma
    title: Shell commands per user
    aggregation: count
    filter: {name: shell.run}
    group_by: [user]
    interval: 1m
    warmup: 8m
    for: 1
    keep_firing_for: 2
    params: {direction: up}
"""
BURST = """
title: Shell command
name: shell_command
logsource: {product: claude_code}
detection:
  sel: {name: shell.run}
  condition: sel
---
title: Forty shell commands within a minute
name: command-burst
level: high
correlation:
  type: event_count
  rules: [shell_command]
  group-by: [user]
  timespan: 1m
  condition: {gte: 40}
"""


def _events(t0: float, rng: random.Random) -> list[tuple[float, str]]:
    """(end time, user) of every command: a few a minute each, a surge for two people."""
    out = []
    for m in range(MINUTES):
        for user in USERS:
            surge = 0 <= m - SURGING.get(user, -99) < 2
            for _ in range(60 if surge else rng.randint(2, 6)):
                out.append((t0 + m * 60 + rng.uniform(0, 59.9), user))
    return sorted(out)


def _partition_streams(events, rng: random.Random) -> list[list[tuple[float, str]]]:
    """Each partition's events in the order they are produced: in time order but for local
    swaps within the lateness, and one in fifty held back three minutes (late on arrival)."""
    streams: list[list[tuple[float, str]]] = [[] for _ in range(PARTITIONS)]
    for n, event in enumerate(events):
        streams[(n * 7 + int(event[0]) // 13) % PARTITIONS].append(event)
    for stream in streams:
        for i in range(0, len(stream) - 1, 3):
            if stream[i + 1][0] - stream[i][0] < LATENESS / 2:
                stream[i], stream[i + 1] = stream[i + 1], stream[i]
        for i in range(len(stream) - 1, 10, -50):
            held = stream.pop(i - 10)
            later = next(
                (j for j in range(i - 10, len(stream)) if stream[j][0] > held[0] + 180), None
            )
            stream.insert(len(stream) if later is None else later, held)
    return streams


def _request(events: list[tuple[float, str]], first_id: int) -> bytes:
    """One request of several users' `shell.run` spans, a resource per span."""
    req = ExportTraceServiceRequest()
    for n, (end, user) in enumerate(events):
        rs = req.resource_spans.add()
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "user", user
        span = rs.scope_spans.add().spans.add()
        span.name = "shell.run"
        span.trace_id = (first_id + n).to_bytes(16, "big")
        span.span_id = (first_id + n).to_bytes(8, "big")
        span.start_time_unix_nano = int((end - 0.2) * 1e9)
        span.end_time_unix_nano = int(end * 1e9)
        attr = span.attributes.add()
        attr.key, attr.value.string_value = "command", "make test"
    return req.SerializeToString()


def _produce(brokers: str, seed: int) -> float:
    """Every partition's stream in batches of 1 to 9 spans, one partition after another in an
    order unlike their numbers; a last span per partition a minute ago closes the windows.
    Returns the end of the commands' last minute."""
    rng = random.Random(seed)
    now = time.time()
    t0 = (now - (MINUTES + 6) * 60) // 60 * 60
    streams = _partition_streams(_events(t0, rng), rng)
    producer = Producer({"bootstrap.servers": brokers})
    ids = 1
    for p in (2, 0, 3, 1):
        stream = [*streams[p], (now - 60 - p, "win-closer")]
        while stream:
            size = rng.randint(1, 9)
            batch, stream = stream[:size], stream[size:]
            producer.produce("otlp_spans", value=_request(batch, ids), partition=p)
            ids += len(batch)
    assert producer.flush(PATIENCE) == 0
    return t0 + MINUTES * 60


def _engine(tmp, brokers: str, group: str, processes: int) -> Engine:
    (tmp / "burst.yml").write_text(BURST)
    kafka_conf = f', kafka: {{brokers: "{brokers}", group_id: {group}, logs_topic: null}}'
    args = ["--rules", str(tmp / "burst.yml")]
    if processes > 1:
        args += ["--processes", str(processes)]
    return Engine(tmp, live_extra=kafka_conf, stream=STREAM, extra=DETECTORS, args=tuple(args))


def _windowed_run(engine: Engine, log: Path, end: float) -> tuple[list[str], int]:
    """Once the windows closed past `end`: the windowed incidents' transitions as JSON with
    sorted keys, each without its wall-clock time, and how many events came late."""
    engine.start()
    try:

        def closed() -> bool:
            seen = httpx.get(f"{engine.base}/healthz", timeout=30).json()["event_time"]
            done = seen.get("windows_closed_to")
            return bool(done) and parse_time(done) > end + 120

        wait_until(closed, "windows closed past the last command")
        time.sleep(1.5)  # the last epochs' incidents reach the log, a health report is made
        late = httpx.get(f"{engine.base}/healthz", timeout=30).json()["event_time"]["late"]
    finally:
        assert engine.stop() == 0
    lines = []
    for raw in log.read_text().splitlines():
        line = json.loads(raw)
        if line["incident"]["rule_id"] in ("commands-per-user", "command-burst"):
            line.pop("at")  # live, transitions are timed by the wall clock
            line["incident"].get("resolution", {}).pop("at", None)
            lines.append(json.dumps(line, sort_keys=True))
    return lines, late


def test_windowed_incidents_are_the_same_with_one_process_and_with_two(
    tmp_path,
    kafka,  # noqa: F811 - the fixture
):
    end = _produce(kafka, seed=14)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one, two = tmp_path / "one", tmp_path / "two"
    single, single_late = _windowed_run(
        _engine(one, kafka, "one", 1), one / "state" / "incident-log.jsonl", end
    )
    cluster, cluster_late = _windowed_run(
        _engine(two, kafka, "two", 2), two / "state" / "process-0" / "incident-log.jsonl", end
    )
    opened = [json.loads(line) for line in single if '"incident.opened"' in line]
    users = {(i["incident"]["rule_id"], i["incident"]["group"]["user"]) for i in opened}
    assert users >= {(r, u) for r in ("commands-per-user", "command-burst") for u in SURGING}
    assert single_late > 0
    assert (cluster, cluster_late) == (single, single_late)
