"""What the receivers and the dataflow's stages count as they go: Prometheus counters and
histograms, each a few hundred nanoseconds under its own lock.

`IngestMeter`: OTLP requests per receiver, signal and answer, and the events they carried per
outcome. `StageTimer`: the time to match one event against the rules (and route it to
correlations and detectors), and the time the keyed shards spend per epoch on correlations and
on detectors.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# Matching one event takes tens of microseconds; a shard's epoch takes up to seconds.
MATCH_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.025, 0.1)
EPOCH_BUCKETS = (1e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)

# Event outcomes: taken in; refused as bad values (poison, out of time range); refused
# because the inbox was full (429) or could never hold the request (413).
EVENT_OUTCOMES = ("ok", "bad", "refused_413", "refused_429")


class IngestMeter:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "spanwatch_otlp_requests",
            "OTLP export requests by receiver, signal and answer (HTTP status, or gRPC status "
            "name); a refused request's body (401, 503, 413 by size) is never read",
            ["receiver", "signal", "code"],
            registry=registry,
        )
        self.events = Counter(
            "spanwatch_events_in",
            "Events received, by receiver and outcome: ok (taken in), bad (refused values), "
            "refused_429 (engine full, the exporter retries), refused_413 (larger than the inbox)",
            ["receiver", "outcome"],
            registry=registry,
        )

    def request(self, receiver: str, signal: str, code: int | str) -> None:
        self.requests.labels(receiver, signal, str(code)).inc()

    def count(self, receiver: str, outcome: str, events: int) -> None:
        if events:
            self.events.labels(receiver, outcome).inc(events)


class StageTimer:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rule_evaluation = Histogram(
            "spanwatch_rule_evaluation_seconds",
            "Time to match one event against the rules and route it to correlations and "
            "detectors (one event in eight is timed)",
            buckets=MATCH_BUCKETS,
            registry=registry,
        )
        self.shard_update = Histogram(
            "spanwatch_shard_update_seconds",
            "Time a keyed shard spends on one epoch: correlation windows (stage=correlate) "
            "or detector rollups and models (stage=detect)",
            ["stage"],
            buckets=EPOCH_BUCKETS,
            registry=registry,
        )

    def shard(self, shard: str, seconds: float) -> None:
        """Shards named `c…` hold correlations, `d…` detectors (see `engine.flow.run_setup`)."""
        self.shard_update.labels("correlate" if shard.startswith("c") else "detect").observe(
            seconds
        )
