"""The usage rollups (`detectors.usage`) as Prometheus families, and the hook that feeds them.

Counters and a latency histogram per label combination (team, repo, workflow, model, region),
policy hits per rule, people active in the last day and week (overall, per team, repo and
workflow), and the top people of the current day by calls, tokens and cost, the rest as
`other`. Label values are bounded (see `detectors.usage`): at most `metrics.max_label_values`
per label and `metrics.max_series` combinations per family.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from detectors.usage import DIMENSIONS, LATENCY_BUCKETS, WINDOWS, UsageRollup
from engine.incidents.model import Hit
from engine.metrics.meters import StageTimer

Match = Callable[[dict[str, Any]], tuple[list[Hit], list[tuple[str, Any]]]]
TIME_EVERY = 8  # rule evaluation is timed on one event in this many
FORGET_EVERY = 600.0  # seconds between sweeps of people inactive for longer than a week
LABELS = list(DIMENSIONS)
TOTALS = (
    ("spanwatch_calls", "Model calls", "calls"),
    ("spanwatch_call_errors", "Model calls that failed", "errors"),
    ("spanwatch_tokens_in", "Input tokens of model calls", "tokens_in"),
    ("spanwatch_tokens_out", "Output tokens of model calls", "tokens_out"),
    ("spanwatch_cost_usd", "Estimated cost of model calls, USD", "cost"),
    ("spanwatch_cache_hits", "Model calls answered from the prompt cache", "cache_hits"),
    (
        "spanwatch_cache_lookups",
        "Model calls that said whether they hit the prompt cache",
        "cache_lookups",
    ),
)
TOP_MEASURES = (
    ("spanwatch_top_user_calls", "calls"),
    ("spanwatch_top_user_tokens", "tokens"),
    ("spanwatch_top_user_cost_usd", "cost"),
)


class Usage(Collector):
    """A `UsageRollup` behind a lock: fed by the receivers' threads, read by scrapes and the
    CloudWatch publisher."""

    def __init__(self, rollup: UsageRollup, top_users: int = 20) -> None:
        self.rollup = rollup
        self.top_users = top_users
        self.lock = threading.Lock()
        self._swept = time.monotonic()

    def observe(self, event: dict[str, Any], policy_hits: list[str] | tuple[str, ...]) -> None:
        with self.lock:
            self.rollup.observe(event, policy_hits)

    def drain_minutes(self) -> list[Any]:
        with self.lock:
            return self.rollup.drain_minutes()

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            if time.monotonic() - self._swept > FORGET_EVERY:
                self.rollup.forget_inactive()
                self._swept = time.monotonic()
            families = list(self._families())
        yield from families

    def _families(self) -> Iterator[Metric]:
        rollup = self.rollup
        yield from _totals(rollup)
        yield _latency(rollup)
        yield _policy_hits(rollup)
        yield from _active_users(rollup)
        yield from _top_users(rollup, self.top_users)


def _totals(rollup: UsageRollup) -> Iterator[Metric]:
    """Calls, tokens and cost per team, repository, workflow and model."""
    for name, text, attr in TOTALS:
        family = CounterMetricFamily(name, text, labels=LABELS)
        for key, totals in sorted(rollup.totals.items()):
            family.add_metric(list(key), getattr(totals, attr))
        yield family


def _latency(rollup: UsageRollup) -> Metric:
    latency = HistogramMetricFamily(
        "spanwatch_call_latency_seconds", "Latency of model calls", labels=LABELS
    )
    for key, counts in sorted(rollup.latency.items()):
        running, buckets = 0, []
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
            running += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
        latency.add_metric(list(key), buckets, rollup.latency_sum[key])
    return latency


def _policy_hits(rollup: UsageRollup) -> Metric:
    hits = CounterMetricFamily(
        "spanwatch_policy_hits",
        "Events that matched a policy rule without a window",
        labels=["rule_id", "team", "repo", "workflow"],
    )
    for labels, count in sorted(rollup.policy_hits.items()):
        hits.add_metric(list(labels), count)
    return hits


def _active_users(rollup: UsageRollup) -> Iterator[Metric]:
    """People active in the last day or week: per team, then per repository and workflow."""
    active = GaugeMetricFamily(
        "spanwatch_active_users",
        "People with a model call in the last day (window=1d) or week (window=7d) of "
        "event time; team=all counts everyone once",
        labels=["window", "team"],
    )
    for window in WINDOWS:
        for team, count in sorted(rollup.active_users(window).items()):
            active.add_metric([window, team], count)
    yield active
    for dimension in ("repo", "workflow"):
        scoped = GaugeMetricFamily(
            f"spanwatch_active_users_by_{dimension}",
            f"People with a model call in the last day or week, per {dimension} (one "
            f"person active in two {dimension}s counts in both)",
            labels=["window", dimension],
        )
        for window in WINDOWS:
            for value, count in sorted(rollup.active_users_by(dimension, window).items()):
                scoped.add_metric([window, value], count)
        yield scoped


def _top_users(rollup: UsageRollup, n: int) -> Iterator[Metric]:
    for name, measure in TOP_MEASURES:
        top = GaugeMetricFamily(
            name,
            f"The {n} people with the most {measure} in the current UTC day "
            "(event time); user=other sums everyone else",
            labels=["user"],
        )
        for user, amount in rollup.top_users(n, measure):
            top.add_metric([user], amount)
        yield top


def metered_match(match: Match, timer: StageTimer, usage: Usage | None) -> Match:
    """`match` (the run setup's), with each event and its policy hits counted in `usage`, and one
    event in `TIME_EVERY` timed (a histogram's observation costs a tenth of a match; a sample
    shows the distribution as well)."""
    observe = timer.rule_evaluation.observe
    clock = time.perf_counter
    seen = itertools.count()

    def run(event: dict[str, Any]) -> tuple[list[Hit], list[tuple[str, Any]]]:
        if next(seen) % TIME_EVERY:
            hits, windowed = match(event)
        else:
            started = clock()
            hits, windowed = match(event)
            observe(clock() - started)
        if usage is not None:
            usage.observe(event, [hit.rule_id for hit in hits] if hits else ())
        return hits, windowed

    return run
