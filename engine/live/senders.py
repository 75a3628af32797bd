"""Which sender an event came from: the unit of the live engine's watermarks.

Every sender has its own clock and its own delays, so the live engine keeps one watermark per
sender (`engine.flow.source_clocks`). For OTLP, a sender is the resource that produced the event when
the resource says who it is (`service.instance.id`, else `host.name`, the attributes the
OpenTelemetry semantic conventions use for that), and otherwise the client connection it came
on (address and port: an exporter keeps its connection open, and a new connection is a new
sender, the old one going idle). Behind a Collector that forwards many clients on one
connection, resource attributes keep them apart. For Kafka, a sender is a topic partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

IDENTITY_ATTRIBUTES = ("service.instance.id", "host.name")


def sender_of(event: Mapping[str, object], connection: str) -> str:
    """The event's sender: its resource's identity, or the connection it came on."""
    for key in IDENTITY_ATTRIBUTES:
        value = event.get(key)
        if type(value) is str and value:
            return f"{key}={value}"
    return f"peer={connection}"


def senders_of(events: Iterable[Mapping[str, object]], connection: str) -> list[str]:
    return [sender_of(event, connection) for event in events]
