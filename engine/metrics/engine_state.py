"""What Prometheus reads from the running engine when it scrapes: queue depths, event time,
incidents and delivery. Nothing here is counted twice: these are the engine's own counters
(the inbox's, the ingest gate's, the dispatcher's, the order stage's health report), turned
into metric families at scrape time.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from engine.timeutil import parse_time
from notifiers.model import IncidentData

# The dispatcher's counters, per receiver, as notification outcomes.
NOTIFICATION_OUTCOMES = (
    "sent",
    "queued",
    "deduplicated",
    "dead_lettered",
    "rate_limited",
    "failed_attempts",
    "queue_full",
    "backlog_full",
    "not_triggered",
    "in_doubt",
)


# What a scrape reads of each of the live engine's objects: only these, so the metrics need
# none of the objects' modules, and a test can hand in a small stand-in.


class InboxDepth(Protocol):
    """The inbox (`engine.live.inbox.Inbox`): what waits for the dataflow, and its limits."""

    @property
    def waiting_events(self) -> int: ...
    @property
    def waiting_bytes(self) -> int: ...
    @property
    def max_events(self) -> int: ...
    @property
    def max_bytes(self) -> int: ...


class IncidentViews(Protocol):
    """The API's views (`engine.live.views.Views`): the order stage's last health report
    (`watermark` and `windows_closed_to` as ISO text, `late`, `source_count`) and the
    incidents."""

    @property
    def event_time(self) -> Mapping[str, Any]: ...
    def list(self) -> Sequence[IncidentData]: ...


class DeliveryStats(Protocol):
    """The dispatcher (`notifiers.dispatcher.Dispatcher`): its counters, `receivers` per
    receiver and `intake`/`pending` for the queues."""

    @property
    def stats(self) -> Mapping[str, Any]: ...


class RefusalCounts(Protocol):
    """The ingest gate (`engine.live.ingest_auth.IngestGate`): requests refused, by reason."""

    def counts(self) -> Mapping[str, int]: ...


class KafkaCounts(Protocol):
    """The Kafka intake (`engine.live.kafka.KafkaIntake`): messages and events by outcome."""

    @property
    def bad_messages(self) -> int: ...
    @property
    def refused_events(self) -> int: ...
    @property
    def taken_events(self) -> int: ...


class EngineState(Collector):
    """`inbox`, `views`, `dispatcher`, `gate` and `kafka` are the live engine's own objects;
    any may be None (a test, or Kafka not configured). `kafka` is asked at each scrape, since
    the Kafka intake starts after the metrics."""

    def __init__(
        self,
        *,
        inbox: InboxDepth | None = None,
        views: IncidentViews | None = None,
        dispatcher: DeliveryStats | None = None,
        gate: RefusalCounts | None = None,
        kafka: Callable[[], KafkaCounts | None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.inbox, self.views, self.dispatcher, self.gate = inbox, views, dispatcher, gate
        self.kafka = kafka or (lambda: None)
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        yield from self._inbox()
        yield from self._event_time()
        yield from self._incidents()
        yield from self._delivery()
        yield from self._kafka()

    def _inbox(self) -> Iterator[Metric]:
        inbox = self.inbox
        if inbox is None:
            return
        depth = GaugeMetricFamily(
            "spanwatch_queue_depth",
            "Items waiting: inbox_events and inbox_bytes (decoded events waiting for the "
            "dataflow), notify_intake and notify_outbox (notifications waiting for delivery)",
            labels=["queue"],
        )
        depth.add_metric(["inbox_events"], inbox.waiting_events)
        depth.add_metric(["inbox_bytes"], inbox.waiting_bytes)
        if self.dispatcher is not None:
            stats = self.dispatcher.stats
            depth.add_metric(["notify_intake"], stats.get("intake", 0))
            depth.add_metric(["notify_outbox"], stats.get("pending", 0))
        yield depth
        capacity = GaugeMetricFamily(
            "spanwatch_queue_capacity", "Limits of the queues above", labels=["queue"]
        )
        capacity.add_metric(["inbox_events"], inbox.max_events)
        capacity.add_metric(["inbox_bytes"], inbox.max_bytes)
        yield capacity
        if self.gate is not None:
            refused = CounterMetricFamily(
                "spanwatch_ingest_requests_refused",
                "OTLP requests refused before their body was read, by reason: "
                "unauthenticated (401) or disabled (503, no SPANWATCH_INGEST_TOKEN)",
                labels=["reason"],
            )
            for reason, count in sorted(self.gate.counts().items()):
                refused.add_metric([reason], count)
            yield refused

    def _event_time(self) -> Iterator[Metric]:
        if self.views is None:
            return
        health = dict(self.views.event_time)
        now = self.clock()
        lag = GaugeMetricFamily(
            "spanwatch_watermark_lag_seconds",
            "Wall clock minus the event-time watermark (what=watermark) and minus how far "
            "windows have closed (what=windows_closed); absent before the first event",
            labels=["what"],
        )
        for what, key in (("watermark", "watermark"), ("windows_closed", "windows_closed_to")):
            value = _seconds(health.get(key))
            if value is not None:
                lag.add_metric([what], max(0.0, now - value))
        yield lag
        late = CounterMetricFamily(
            "spanwatch_events_late",
            "Events that arrived after windows they belonged to had closed (they still count "
            "in the windows still open)",
        )
        late.add_metric([], health.get("late", 0))
        yield late
        senders = GaugeMetricFamily("spanwatch_senders", "Senders with a watermark of their own")
        senders.add_metric([], health.get("source_count", 0))
        yield senders

    def _incidents(self) -> Iterator[Metric]:
        if self.views is None:
            return
        open_now = GaugeMetricFamily(
            "spanwatch_incidents",
            "Incidents not resolved, by rule or detector, severity and status",
            labels=["rule_id", "severity", "status"],
        )
        counts: Counter[tuple[str, str, str]] = Counter()
        for incident in self.views.list():
            counts[
                (
                    str(incident.get("rule_id", "")),
                    str(incident.get("severity", "")),
                    str(incident.get("status", "")),
                )
            ] += 1
        for labels, count in sorted(counts.items()):
            open_now.add_metric(list(labels), count)
        yield open_now

    def _delivery(self) -> Iterator[Metric]:
        if self.dispatcher is None:
            return
        per_receiver: dict[str, dict[str, int]] = self.dispatcher.stats.get("receivers", {})
        outcomes = CounterMetricFamily(
            "spanwatch_notifications",
            "Notifications and actions by receiver and outcome (sent, dead_lettered, …); "
            "failed_attempts counts attempts, the others notifications",
            labels=["receiver", "outcome"],
        )
        retries = CounterMetricFamily(
            "spanwatch_notification_retries", "Retries after a failed attempt", labels=["receiver"]
        )
        dead = CounterMetricFamily(
            "spanwatch_dead_letters",
            "Notifications written to the dead-letter file (resend with "
            "`spanwatch notify retry-dead-letters`)",
            labels=["receiver"],
        )
        for receiver, counts in sorted(per_receiver.items()):
            for outcome in NOTIFICATION_OUTCOMES:
                if counts.get(outcome):
                    outcomes.add_metric([receiver, outcome], counts[outcome])
            retries.add_metric([receiver], counts.get("retried", 0))
            dead.add_metric([receiver], counts.get("dead_lettered", 0))
        yield outcomes
        yield retries
        yield dead

    def _kafka(self) -> Iterator[Metric]:
        kafka = self.kafka()
        if kafka is None:
            return
        family = CounterMetricFamily(
            "spanwatch_kafka_messages",
            "From Kafka: messages skipped (bad_messages: not OTLP, or larger than the inbox), "
            "events refused for their values (refused_events) and events taken in "
            "(taken_events)",
            labels=["outcome"],
        )
        family.add_metric(["bad_messages"], kafka.bad_messages)
        family.add_metric(["refused_events"], kafka.refused_events)
        family.add_metric(["taken_events"], kafka.taken_events)
        yield family


def _seconds(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        t = parse_time(value)
    except ValueError:
        return None
    return t if math.isfinite(t) else None
