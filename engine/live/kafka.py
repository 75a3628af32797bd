"""Kafka source: OTLP requests as the Collector's Kafka exporter writes them.

Each message is one ExportTraceServiceRequest / ExportLogsServiceRequest, as protobuf
(`otlp_proto`, the exporter's default) or OTLP/JSON (`otlp_json`); the encoding is
recognised per message. A message's events are written to the intake log with its topic,
partition and offset before its offset is committed, and a consumer given a partition goes on
after the last message of it the log holds, whatever its group had committed: a crash between
the two neither loses the message nor takes it twice. A full inbox pauses consumption (the
messages wait in Kafka, not in memory). Each partition is
a sender of its own for the event-time watermarks (`engine.flow.source_clocks`). A process of a
cluster (`share=(I, N)`) is not given partitions by the consumer group but takes them itself:
partition `p` of each topic when `p mod N == I`, so a partition's messages always land in the
same process's intake log (the one that knows where it got to), and a partition added to a
topic later is taken up within `REASSIGN_SECONDS`. A message that
does not decode, or is larger than the whole inbox, is counted and logged with its topic,
partition and offset, then skipped; events with values that must not enter state
(`engine.otlp.event_checks`) are counted (also against their partition) and logged the same way,
and the rest of the message is taken.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from typing import Any

import orjson

from engine.live.inbox import estimate_bytes
from engine.live.intake import Intake, Refused
from engine.live.kafka_config import KafkaConfig
from engine.otlp.aliases import AliasTable
from engine.otlp.event_checks import TimeBounds, screen, summary
from engine.otlp.line_decoder import DecodeError, decode_line
from engine.otlp.proto_decoder import decode_logs_bytes, decode_trace_bytes

log = logging.getLogger("spanwatch.kafka")
REASSIGN_SECONDS = 30.0  # a cluster process looks for partitions added to its topics this often


def owned_partitions(
    topic_partitions: dict[str, int], process_id: int, processes: int
) -> list[tuple[str, int]]:
    """(topic, partition) that process `process_id` of a cluster of `processes` takes, of topics
    with these numbers of partitions: partition `p` when `p mod processes == process_id`."""
    return [
        (topic, p)
        for topic, count in sorted(topic_partitions.items())
        for p in range(count)
        if p % processes == process_id
    ]


def sender_name(topic: str, partition: int) -> str:
    """A partition's name as a sender of events (for the watermarks and `/healthz`)."""
    return f"kafka={topic}[{partition}]"


class KafkaIntake:
    """A consumer thread feeding the inbox."""

    def __init__(
        self,
        config: KafkaConfig,
        intake: Intake,
        aliases: AliasTable,
        *,
        bounds: TimeBounds | None = None,
        share: tuple[int, int] | None = None,
    ) -> None:
        self.config = config
        self.share = share  # (this process's id, processes in the cluster); None: the group's
        self.intake = intake
        self.inbox = intake.inbox
        self.aliases = aliases
        self.bounds = bounds if bounds is not None else TimeBounds()
        self.stopped = threading.Event()
        self.bad_messages = 0
        self.refused_events = 0
        self.taken_events = 0
        self.logged: dict[tuple[str, int], int] = {}  # last offset in the intake log
        # set once the consumer knows its partitions (or gave up asking): see `expect`
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="kafka-intake", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.ready.set()
        self.thread.join(timeout=10)

    def _settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "bootstrap.servers": self.config.brokers,
            "group.id": self.config.group_id,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **self.config.options,
        }
        if self.config.password_env:
            settings["sasl.password"] = os.environ.get(self.config.password_env, "")
        return settings

    def decode(self, topic: str, value: bytes) -> list[dict[str, Any]]:
        """One message -> events; DecodeError with the reason when it is not OTLP."""
        if value[:1] == b"{":  # protobuf never starts so: field 1's tag is 0x0a
            return decode_line(value, self.aliases)
        try:
            if topic == self.config.logs_topic:
                return decode_logs_bytes(value, self.aliases)
            return decode_trace_bytes(value, self.aliases)
        except Exception as exc:  # protobuf raises its own DecodeError and friends
            if value.lstrip()[:1] == b"{":
                return decode_line(value, self.aliases)
            raise DecodeError(f"not OTLP protobuf: {exc}") from None

    def _offer(
        self, events: list[dict[str, Any]], sender: str, nbytes: int, ref: tuple[str, int, int]
    ) -> bool:
        try:
            pending = self.intake.offer_events(events, sender, nbytes, kafka=ref)
            if pending is not None:
                pending.wait()
        except (Refused, OSError):
            return False
        return True

    def _run(self) -> None:
        from confluent_kafka import Consumer

        consumer = Consumer(self._settings())
        topics = [t for t in (self.config.traces_topic, self.config.logs_topic) if t]
        self.logged = self.intake.kafka_offsets()
        if self.share is None:
            consumer.subscribe(topics, on_assign=self._assigned)
        looked = -math.inf
        try:
            while not self.stopped.is_set():
                if self.share is not None and time.monotonic() - looked > REASSIGN_SECONDS:
                    self._take_share(consumer, topics)
                    looked = time.monotonic()
                message = consumer.poll(0.5)
                if message is not None and not self._take(consumer, message):
                    return  # not committed: the message is read again after a restart
        finally:
            consumer.close()

    def expect(self, pairs: list[tuple[str, int]]) -> None:
        """Tell the watermarks of partitions before their first message: the order stage then
        waits for each (at most `stream.idle_timeout`) instead of closing windows on the
        partitions read first, so which events count does not depend on which partition a
        consumer, or a cluster's process, happened to read first."""
        expected = self.intake.setup.expected_sources
        for topic, partition in pairs:
            name = sender_name(topic, partition)
            if name not in expected:
                expected.append(name)
        self.ready.set()

    def _assigned(self, consumer: Any, partitions: list[Any], incremental: bool = False) -> None:
        """Each partition goes on after the last offset the intake log holds from it."""
        if self.share is None:  # the group's share: the watermark waits for these
            self.expect([(tp.topic, tp.partition) for tp in partitions])
        for tp in partitions:
            last = self.logged.get((tp.topic, tp.partition))
            if last is not None:
                tp.offset = last + 1
                log.info("kafka: %s[%d] goes on at %d", tp.topic, tp.partition, last + 1)
        if incremental:
            consumer.incremental_assign(partitions)
        else:
            consumer.assign(partitions)

    def _take_share(self, consumer: Any, topics: list[str]) -> None:
        """Assign this process its partitions of `topics` (those it does not hold yet)."""
        from confluent_kafka import KafkaException, TopicPartition

        assert self.share is not None

        try:
            listed = consumer.list_topics(timeout=5).topics
        except KafkaException as exc:
            log.warning("kafka: cannot list the topics' partitions: %s", exc)
            return
        counts = {t: len(listed[t].partitions) for t in topics if t in listed}
        # every process's partitions: the order stage, on process 0, waits for them all
        self.expect([(t, p) for t, count in sorted(counts.items()) for p in range(count)])
        held = {(tp.topic, tp.partition) for tp in consumer.assignment()}
        new = [pair for pair in owned_partitions(counts, *self.share) if pair not in held]
        if new:
            tps = [TopicPartition(topic, p) for topic, p in new]
            log.info("kafka: this process takes %s", ", ".join(f"{t}[{p}]" for t, p in new))
            self._assigned(consumer, tps, incremental=True)

    def _take(self, consumer: Any, message: Any) -> bool:
        """One message into the intake log (or skipped, counted, and committed); False when the
        engine stops before its events could go in."""
        error = message.error()
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        if error or topic is None or partition is None or offset is None:
            log.warning("kafka: %s", error or "a message without its place in a partition")
            return True
        value = message.value() or b""
        taken = self.events_of(topic, partition, offset, value)
        if isinstance(taken, str):
            return self._skip(consumer, message, taken)
        events, nbytes = taken
        sender = sender_name(topic, partition)
        while events and not self._offer(events, sender, nbytes, (topic, partition, offset)):
            if self.stopped.wait(0.2) or self.inbox.closed:
                return False
        self.taken_events += len(events)
        self.logged[(topic, partition)] = offset
        consumer.commit(message=message, asynchronous=True)
        return True

    def events_of(
        self, topic: str, partition: int, offset: int, value: bytes
    ) -> tuple[list[dict[str, Any]], int] | str:
        """A message's events fit for state and the memory they hold, or why the whole
        message is skipped. Whatever the bytes, nothing else comes out: a message that stopped
        the consumer would stop it again after every restart, since it is never committed."""
        where = f"{topic}[{partition}]@{offset}"
        try:
            decoded = self.decode(topic, value)
        except (DecodeError, orjson.JSONDecodeError) as exc:
            return f"kafka message {where} skipped: {exc}"
        except Exception as exc:  # a decoder's fault: the message is skipped, not the consumer
            return f"kafka message {where} skipped: it cannot be decoded ({type(exc).__name__})"
        events = self._screen(decoded, sender_name(topic, partition), where)
        nbytes = estimate_bytes(events, len(value))
        if not self.inbox.fits(len(events), nbytes):
            return f"kafka message {where} skipped: larger than the whole inbox"
        return events, nbytes

    def _skip(self, consumer: Any, message: Any, warning: str) -> bool:
        """A message that can never go in: counted, logged, and committed past."""
        self.bad_messages += 1
        log.warning("%s", warning)
        consumer.commit(message=message, asynchronous=True)
        return True

    def _screen(
        self, decoded: list[dict[str, Any]], sender: str, where: str
    ) -> list[dict[str, Any]]:
        """The events that may enter state; the others counted against the topic's partition."""
        events, refused = screen(decoded, self.bounds, time.time())
        if refused:
            self.refused_events += len(refused)
            self.inbox.count_refused([sender] * len(refused))
            log.warning("kafka message %s: %s", where, summary(refused, len(decoded), "events"))
        return events
