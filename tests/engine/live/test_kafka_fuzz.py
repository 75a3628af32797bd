"""Hostile Kafka messages, as the consumer takes them: each is skipped with its place and the
reason, or its events fit for state go into the intake log, which a restart reads back whole.

Messages are random bytes, mutated protobuf from the SDK, protobuf with extreme values, OTLP/JSON
with extreme or wrongly typed values anywhere (times far off, ends before starts, huge
integers, invalid UTF-8 after a JSON start) and JSON nested thousands deep.
`tests/engine/test_kafka_source.py` runs the consumer against librdkafka's mock cluster.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.live.inbox import Inbox
from engine.live.kafka import KafkaIntake
from engine.live.kafka_config import KafkaConfig
from engine.otlp.aliases import AliasTable
from engine.otlp.event_checks import TimeBounds, event_problem
from tests.engine.otlp_fuzz import (
    broken,
    logs_json,
    mutated,
    proto_trace_request,
    to_json,
    trace_json,
    valid_trace_request,
)
from tests.patience import PATIENCE

from .intakes import logged_events, open_intake

VALID = valid_trace_request()
ANY_FUTURE = TimeBounds(max_future=float("inf"))
nested = st.integers(1, 5000).map(lambda n: b'{"resourceSpans":' + b"[" * n + b"]" * n + b"}")
messages = st.one_of(
    st.binary(max_size=3000),
    st.binary(max_size=200).map(lambda b: b'{"resourceSpans": "' + b + b'"}'),
    mutated(VALID),
    proto_trace_request(),
    st.one_of(trace_json, broken(trace_json), logs_json, broken(logs_json)).map(to_json),
    nested,
)


def test_every_hostile_message_is_skipped_with_its_reason_or_taken_fit_for_state():
    directory = Path(tempfile.mkdtemp(prefix="spanwatch-kafka-fuzz-"))
    intake = open_intake(directory, Inbox(10**6, 1 << 30))
    kafka = KafkaIntake(KafkaConfig(brokers="127.0.0.1:9"), intake, AliasTable())
    offsets = iter(range(10**9))
    outcomes = {"skipped": 0, "taken": 0}

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(topic=st.sampled_from(["otlp_spans", "otlp_logs"]), value=messages)
    def one_message(topic: str, value: bytes) -> None:
        offset = next(offsets)
        taken = kafka.events_of(topic, 0, offset, value)
        if isinstance(taken, str):
            assert taken.startswith(f"kafka message {topic}[0]@{offset} skipped: ")
            outcomes["skipped"] += 1
            return
        events, nbytes = taken
        for event in events:
            assert event_problem(event, ANY_FUTURE, 0.0) is None, event
        if events:
            pending = intake.offer_events(events, f"kafka={topic}[0]", nbytes, (topic, 0, offset))
            assert pending is None or pending.wait(PATIENCE)
            outcomes["taken"] += 1

    try:
        one_message()
        written, _ = logged_events(intake)
        intake.close()
        # a restart reads every message back and goes on after the last offset it holds
        again = open_intake(directory, Inbox(10**6, 1 << 30))
        try:
            assert logged_events(again)[0] == written
            offsets_held = again.kafka_offsets()
            assert all(offset >= 0 for offset in offsets_held.values())
        finally:
            again.close()
    finally:
        intake.close()
        shutil.rmtree(directory, ignore_errors=True)
    assert outcomes["skipped"] and outcomes["taken"], outcomes  # both kinds were met
    assert kafka.refused_events  # events with poison values were counted, not taken
