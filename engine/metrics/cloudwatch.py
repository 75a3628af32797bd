"""Usage rollups into CloudWatch with `PutMetricData`: one point per minute of event time.

Every `interval_seconds` the minutes gathered since the last put are sent (a late event's
minute is sent again, and CloudWatch adds the two), together with the people active in the
last day and week. Metric names and dimension sets, namespace `metrics.cloudwatch.namespace`:

| dimensions | metrics |
| --- | --- |
| none (the organisation) | Calls, Errors, TokensIn, TokensOut, CostUSD, CacheHits, CacheLookups, PolicyHits, LatencyMs, ActiveUsers1d, ActiveUsers7d |
| Team, Repo, Workflow | Calls, Errors, TokensIn, TokensOut, CostUSD, CacheHits, CacheLookups, PolicyHits, LatencyMs |
| Model, Region | Calls, Errors, LatencyMs |
| Team | Calls, Errors, Tokens (in and out), CostUSD, ActiveUsers1d, ActiveUsers7d |

(`DIMENSION_SETS` holds the same table, for the dashboard and its test.)

LatencyMs is sent as values and counts (to two significant digits), so CloudWatch computes any
percentile (p95) over any period. A put that fails is logged in one line and tried again at
the next interval, up to `MAX_RETAINED` data points; beyond that the oldest are dropped and
counted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from detectors.usage import Minute, Totals
from engine.metrics.config import CloudWatchConfig
from engine.metrics.usage_families import Usage

log = logging.getLogger("spanwatch")
BATCH = 500  # data points per PutMetricData call (the API takes up to 1000, 1 MB)
MAX_VALUES = 150  # values per data point (the API's limit)
MAX_RETAINED = 100_000
TOTAL_METRICS = (
    ("Calls", "calls", "Count"),
    ("Errors", "errors", "Count"),
    ("TokensIn", "tokens_in", "Count"),
    ("TokensOut", "tokens_out", "Count"),
    ("CostUSD", "cost", "None"),
    ("CacheHits", "cache_hits", "Count"),
    ("CacheLookups", "cache_lookups", "Count"),
)
MODEL_METRICS = TOTAL_METRICS[:2]
TEAM_METRICS = (*TOTAL_METRICS[:2], ("CostUSD", "cost", "None"))
ACTIVE = ("ActiveUsers1d", "ActiveUsers7d")
TOTAL_NAMES = tuple(name for name, _, _ in TOTAL_METRICS)
DIMENSION_SETS: dict[tuple[str, ...], tuple[str, ...]] = {
    (): (*TOTAL_NAMES, "PolicyHits", "LatencyMs", *ACTIVE),
    ("Team", "Repo", "Workflow"): (*TOTAL_NAMES, "PolicyHits", "LatencyMs"),
    ("Model", "Region"): ("Calls", "Errors", "LatencyMs"),
    ("Team",): ("Calls", "Errors", "Tokens", "CostUSD", *ACTIVE),
}
EXPORTED = tuple(sorted({m for names in DIMENSION_SETS.values() for m in names}))


def minute_data(minute: Minute) -> Iterator[dict[str, Any]]:
    """The data points of one minute of event time."""
    at = datetime.fromtimestamp(minute.start, UTC)
    yield from _totals(at, [], minute.overall, TOTAL_METRICS)
    yield _datum("PolicyHits", at, [], float(sum(minute.policy_hits.values())), "Count")
    for (team, repo, workflow), totals in sorted(minute.by_scope.items()):
        dims = _dims(Team=team, Repo=repo, Workflow=workflow)
        yield from _totals(at, dims, totals, TOTAL_METRICS)
        yield _datum(
            "PolicyHits",
            at,
            dims,
            float(minute.policy_hits.get((team, repo, workflow), 0)),
            "Count",
        )
    for (team, repo, workflow), count in sorted(minute.policy_hits.items()):
        if (team, repo, workflow) not in minute.by_scope:
            yield _datum(
                "PolicyHits",
                at,
                _dims(Team=team, Repo=repo, Workflow=workflow),
                float(count),
                "Count",
            )
    for (model, region), totals in sorted(minute.by_model.items()):
        yield from _totals(at, _dims(Model=model, Region=region), totals, MODEL_METRICS)
    teams: dict[str, list[Totals]] = {}
    for (team, _, _), totals in minute.by_scope.items():
        teams.setdefault(team, []).append(totals)
    for team, parts in sorted(teams.items()):
        dims = _dims(Team=team)
        for name, attr, unit in TEAM_METRICS:
            yield _datum(name, at, dims, float(sum(getattr(t, attr) for t in parts)), unit)
        tokens = sum(t.tokens_in + t.tokens_out for t in parts)
        yield _datum("Tokens", at, dims, float(tokens), "Count")


def active_user_data(usage: Usage) -> list[dict[str, Any]]:
    """People active in the last day and week, at the newest event time seen."""
    with usage.lock:
        rollup = usage.rollup
        if rollup.now == float("-inf"):
            return []
        at = datetime.fromtimestamp(rollup.now, UTC)
        windows = {w: rollup.active_users(w) for w in ("1d", "7d")}
    out = []
    for window, counts in windows.items():
        name = f"ActiveUsers{window}"
        for team, count in sorted(counts.items()):
            dims = [] if team == "all" else _dims(Team=team)
            out.append(_datum(name, at, dims, float(count), "Count"))
    return out


class CloudWatchPublisher:
    """A thread that puts the usage rollups every `interval_seconds`; `stop()` puts the rest."""

    def __init__(self, config: CloudWatchConfig, usage: Usage, client: Any = None) -> None:
        self.config = config
        self.usage = usage
        self.client = client or _client(config)
        self.retained: list[dict[str, Any]] = []
        self.dropped = 0
        self.puts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cloudwatch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.publish()

    def _run(self) -> None:
        while not self._stop.wait(self.config.interval_seconds):
            self.publish()

    def publish(self) -> int:
        """Put what was gathered; the number of data points CloudWatch took."""
        data = self.retained
        for minute in self.usage.drain_minutes():
            data.extend(minute_data(minute))
        data.extend(active_user_data(self.usage))
        self.retained = []
        sent = 0
        for i in range(0, len(data), BATCH):
            batch = data[i : i + BATCH]
            try:
                self.client.put_metric_data(Namespace=self.config.namespace, MetricData=batch)
            except Exception as exc:  # botocore's errors, a network failure: try again later
                log.warning(
                    "cloudwatch: put_metric_data failed (%s); retrying later", _one_line(exc)
                )
                self._retain(data[i:])
                break
            self.puts += 1
            sent += len(batch)
        return sent

    def _retain(self, data: list[dict[str, Any]]) -> None:
        keep = data[-MAX_RETAINED:]
        self.dropped += len(data) - len(keep)
        self.retained = keep


def _client(config: CloudWatchConfig) -> Any:
    import boto3

    return boto3.client("cloudwatch", region_name=config.region, endpoint_url=config.endpoint_url)


def _totals(
    at: datetime,
    dims: list[dict[str, str]],
    totals: Totals,
    metrics: tuple[tuple[str, str, str], ...],
) -> Iterator[dict[str, Any]]:
    for name, attr, unit in metrics:
        yield _datum(name, at, dims, float(getattr(totals, attr)), unit)
    if totals.latency_ms:
        items = sorted(totals.latency_ms.items())
        for i in range(0, len(items), MAX_VALUES):
            chunk = items[i : i + MAX_VALUES]
            yield {
                "MetricName": "LatencyMs",
                "Timestamp": at,
                "Dimensions": dims,
                "Values": [v for v, _ in chunk],
                "Counts": [float(c) for _, c in chunk],
                "Unit": "Milliseconds",
            }


def _datum(
    name: str, at: datetime, dims: list[dict[str, str]], value: float, unit: str
) -> dict[str, Any]:
    return {"MetricName": name, "Timestamp": at, "Dimensions": dims, "Value": value, "Unit": unit}


def _dims(**values: str) -> list[dict[str, str]]:
    # CloudWatch refuses empty dimension values; the rollup never gives one (`unknown`).
    return [{"Name": k, "Value": v[:1024]} for k, v in values.items()]


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]
