"""Everything `/metrics` shows, in one registry: meters the engine counts with, and collectors
that read the engine's state when Prometheus scrapes."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from detectors.usage import UsageRollup
from engine.incidents.model import LogLineData
from engine.metrics.config import MetricsConfig
from engine.metrics.engine_state import (
    DeliveryStats,
    EngineState,
    InboxDepth,
    IncidentViews,
    KafkaCounts,
    RefusalCounts,
)
from engine.metrics.meters import IngestMeter, StageTimer
from engine.metrics.usage_families import Match, Usage, metered_match

CONTENT_TYPE = CONTENT_TYPE_LATEST


class EngineMetrics:
    def __init__(self, config: MetricsConfig | None = None) -> None:
        self.config = config or MetricsConfig()
        self.registry = CollectorRegistry(auto_describe=False)
        self.ingest = IngestMeter(self.registry)
        self.stages = StageTimer(self.registry)
        self.transitions = Counter(
            "spanwatch_incident_transitions",
            "Incident transitions by rule or detector and type (opened, updated, escalated, "
            "acknowledged, resolved)",
            ["rule_id", "type"],
            registry=self.registry,
        )
        self.usage: Usage | None = None
        if self.config.usage:
            rollup = UsageRollup(
                max_values=self.config.max_label_values,
                max_series=self.config.max_series,
                minutes=self.config.cloudwatch is not None,
            )
            self.usage = Usage(rollup, self.config.top_users)
            self.registry.register(self.usage)

    def watch(
        self,
        *,
        inbox: InboxDepth,
        views: IncidentViews,
        dispatcher: DeliveryStats,
        gate: RefusalCounts,
        kafka: Callable[[], KafkaCounts | None],
    ) -> None:
        """Read the engine's own objects at scrape time (see `EngineState`)."""
        state = EngineState(inbox=inbox, views=views, dispatcher=dispatcher, gate=gate, kafka=kafka)
        self.registry.register(state)

    def match(self, match: Match) -> Match:
        return metered_match(match, self.stages, self.usage)

    def transition(self, line: LogLineData) -> None:
        """One incident-log line (the sink calls this for every transition)."""
        kind = line["type"].removeprefix("incident.")
        self.transitions.labels(line["incident"]["rule_id"], kind).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


def shard_timer(metrics: EngineMetrics | None) -> Callable[[str, float], None] | None:
    return metrics.stages.shard if metrics is not None else None
