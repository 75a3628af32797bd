"""Live throughput from Kafka: events per second through `spanwatch run` with 1 and 2 processes.

    python bench/live_cluster_throughput.py [--events 40000] [--partitions 4] [--batch 50]

librdkafka's mock cluster holds a topic of `--partitions` partitions, filled before the engine
starts with OTLP protobuf requests of `--batch` `claude.invoke` spans (many users, teams and
models, event times over the last half hour). `spanwatch run` (default rules and detectors)
starts on a fresh state directory, with one process and then as a cluster of two; each rate is
the events counted by the order stage (`/healthz` `event_time.events`, process 0) over the
wall time from the engine answering `/healthz` until it has counted them all.

Printed as ratios against a baseline measured in the same run: decoding the same messages in
this process (`KafkaIntake.decode`), the floor that no engine configuration goes below. The
machine is shared, so only ratios within one run mean anything.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from confluent_kafka import Producer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from engine.otlp.aliases import AliasTable
from engine.otlp.proto_decoder import decode_trace_bytes

TOPIC = "otlp_spans"
MODELS = ["anthropic.claude-sonnet-4-5", "anthropic.claude-haiku-4-5", "anthropic.claude-opus-4-1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(rng: random.Random, now: float, size: int, first: int) -> bytes:
    req = ExportTraceServiceRequest()
    for n in range(size):
        user = rng.randrange(400)
        rs = req.resource_spans.add()
        for key, value in (("user", f"u{user}@example.com"), ("team", f"team-{user % 17}")):
            kv = rs.resource.attributes.add()
            kv.key, kv.value.string_value = key, value
        span = rs.scope_spans.add().spans.add()
        span.name = "claude.invoke"
        span.trace_id, span.span_id = (
            (first + n).to_bytes(16, "big"),
            (first + n).to_bytes(8, "big"),
        )
        end = now - rng.uniform(60, 1800)
        span.start_time_unix_nano = int((end - rng.uniform(0.5, 20)) * 1e9)
        span.end_time_unix_nano = int(end * 1e9)
        for key, value in (("model", rng.choice(MODELS)), ("region", "us-east-1")):
            attr = span.attributes.add()
            attr.key, attr.value.string_value = key, value
        for key, number in (("input_tokens", rng.randint(100, 9000)), ("output_tokens", 300)):
            attr = span.attributes.add()
            attr.key, attr.value.int_value = key, number
    return req.SerializeToString()


def fill(brokers: str, events: int, partitions: int, batch: int) -> list[bytes]:
    rng = random.Random(7)
    now = time.time()
    producer = Producer({"bootstrap.servers": brokers})
    messages = [_request(rng, now, batch, i * batch) for i in range(events // batch)]
    for i, value in enumerate(messages):
        producer.produce(TOPIC, value=value, partition=i % partitions)
        producer.poll(0)
    assert producer.flush(60) == 0
    return messages


def decode_rate(messages: list[bytes]) -> float:
    """Events per second of the floor: each message decoded by the Kafka intake's decoder."""
    aliases = AliasTable()
    started, count = time.perf_counter(), 0
    for value in messages:
        count += len(decode_trace_bytes(value, aliases))
    return count / (time.perf_counter() - started)


def engine_rate(brokers: str, events: int, processes: int, folder: Path) -> float:
    api = free_port()
    config = folder / "spanwatch.yml"
    config.write_text(
        f"state_dir: {folder / 'state'}\n"
        "stream: {idle_timeout: 3600}\n"
        f'live: {{otlp_http: "127.0.0.1:{free_port()}", otlp_grpc: "127.0.0.1:{free_port()}", '
        f'api: "127.0.0.1:{api}", kafka: {{brokers: "{brokers}", group_id: g{processes}, '
        "logs_topic: null}}\n"
    )
    args = ["--processes", str(processes)] if processes > 1 else []
    env = {**os.environ, "SPANWATCH_INGEST_TOKEN": "bench"}
    with (folder / "engine.log").open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "run", "--config", str(config), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            return _time_to_count(f"http://127.0.0.1:{api}/healthz", events, proc)
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def _time_to_count(url: str, events: int, proc: subprocess.Popen) -> float:
    started = None
    while proc.poll() is None:
        try:
            seen = httpx.get(url, timeout=5).json()["event_time"].get("events", 0)
        except (httpx.HTTPError, ValueError):
            time.sleep(0.1)
            continue
        started = started if started is not None else time.perf_counter()
        if seen >= events:
            return events / (time.perf_counter() - started)
        time.sleep(0.1)
    raise SystemExit("the engine stopped before it counted every event")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--batch", type=int, default=50)
    opts = parser.parse_args()
    keeper = Producer({"test.mock.num.brokers": 1})  # keeps the mock cluster alive
    broker = next(iter(keeper.list_topics(timeout=30).brokers.values()))
    brokers = f"{broker.host}:{broker.port}"
    messages = fill(brokers, opts.events, opts.partitions, opts.batch)
    events = len(messages) * opts.batch
    floor = decode_rate(messages)
    print(f"{events} events in {len(messages)} messages over {opts.partitions} partitions")
    print(f"decode floor: {floor:,.0f} events/s (baseline, this process)")
    rates = {}
    for processes in (1, 2):
        with tempfile.TemporaryDirectory() as folder:
            rates[processes] = engine_rate(brokers, events, processes, Path(folder))
        share = rates[processes] / floor
        print(f"spanwatch run, {processes} process(es): {share:.1%} of the decode floor")
    print(f"2 processes / 1 process: {rates[2] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
