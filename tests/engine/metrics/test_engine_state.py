"""What a scrape reads of the live engine's own objects: the inbox, the views, the ingest
gate, the dispatcher's counters and the Kafka intake, each through the little it needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from engine.live.inbox import Inbox
from engine.live.ingest_auth import IngestGate
from engine.live.views import Views
from engine.metrics.engine_state import EngineState


@dataclass
class Counts:
    """The Kafka intake's three counters, as `KafkaIntake` keeps them."""

    bad_messages: int = 0
    refused_events: int = 0
    taken_events: int = 0


@dataclass
class Delivery:
    """The dispatcher's counters, shaped as `Dispatcher.stats` gives them."""

    stats: dict[str, Any] = field(default_factory=dict)


def scrape(state: EngineState) -> dict[str, dict[frozenset[tuple[str, str]], float]]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(state)
    out: dict[str, dict[frozenset[tuple[str, str]], float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            out.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return out


def test_nothing_to_read_gives_no_families():
    assert scrape(EngineState()) == {}


def test_each_object_is_read_at_the_scrape():
    inbox, views, gate = Inbox(max_events=7, max_bytes=4096), Views(), IngestGate("bearer", None)
    delivery = Delivery({"intake": 2, "pending": 3, "receivers": {"slack": {"sent": 4}}})
    kafka: list[Counts] = []  # the Kafka intake starts after the metrics
    state = EngineState(
        inbox=inbox,
        views=views,
        dispatcher=delivery,
        gate=gate,
        kafka=lambda: kafka[0] if kafka else None,
        clock=lambda: 1_000.0,
    )
    assert "spanwatch_kafka_messages_total" not in scrape(state)
    gate.check(None)  # no token configured: refused as disabled
    views.health({}, {"watermark": "1970-01-01T00:15:00Z", "late": 5, "source_count": 2})
    kafka.append(Counts(bad_messages=1, refused_events=2, taken_events=3))
    m = scrape(state)
    assert m["spanwatch_queue_capacity"][frozenset({("queue", "inbox_events")})] == 7
    assert m["spanwatch_queue_depth"][frozenset({("queue", "notify_outbox")})] == 3
    assert m["spanwatch_ingest_requests_refused_total"][frozenset({("reason", "disabled")})] == 1
    assert m["spanwatch_watermark_lag_seconds"] == {frozenset({("what", "watermark")}): 100.0}
    assert m["spanwatch_events_late_total"] == {frozenset(): 5}
    assert m["spanwatch_notifications_total"] == {
        frozenset({("receiver", "slack"), ("outcome", "sent")}): 4
    }
    taken = frozenset({("outcome", "taken_events")})
    assert m["spanwatch_kafka_messages_total"][taken] == 3
