"""The shipped dashboards ask only for what spanwatch exports: every Grafana query names
families and labels of `/metrics`, every CloudWatch widget a metric and dimension set that the
publisher puts (checked against moto's server after a real publish)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
from prometheus_client.parser import text_string_to_metric_families

from detectors.usage import UsageRollup
from engine.metrics.cloudwatch import DIMENSION_SETS, CloudWatchPublisher
from engine.metrics.config import CloudWatchConfig, MetricsConfig
from engine.metrics.registry import EngineMetrics
from engine.metrics.usage_families import Usage
from tests.replay.moto_s3 import moto_server

ROOT = Path(__file__).resolve().parents[3]
GRAFANA = ROOT / "dashboards" / "grafana" / "spanwatch-usage.json"
CLOUDWATCH = ROOT / "dashboards" / "cloudwatch" / "spanwatch-usage.json"
PROMQL_WORDS = {
    "sum", "rate", "increase", "histogram_quantile", "topk", "by", "without", "label_values",
}  # fmt: skip
T0 = 1_767_225_600.0 + 13 * 3600  # 2026-01-01T13:00:00Z


def events() -> list[dict]:
    out = []
    for i in range(40):
        out.append(
            {
                "time": T0 + 17 * i,
                "name": "claude.invoke" if i % 3 else "claude_code.api_request",
                "session": f"s{i % 5}",
                "team": ["payments", "search", "ml"][i % 3],
                "repo": ["billing", "ledger"][i % 2],
                "workflow": ["review", "ci-fix", None][i % 3],
                "model": "anthropic.claude-sonnet-4-5",
                "region": ["eu-west-1", "us-east-1"][i % 2],
                "user": f"p{i % 7}",
                "tokens_in": 500 + i,
                "tokens_out": 40,
                "cost": 0.02,
                "latency_ms": 800.0 + 97 * i,
                "cache_hit": i % 4 == 0,
                "status": "error" if i % 9 == 0 else "ok",
            }
        )
    return out


def exported_samples() -> dict[str, set[str]]:
    """Sample name -> label names, from a registry fed with usage."""
    metrics = EngineMetrics(MetricsConfig())
    assert metrics.usage is not None
    for n, event in enumerate(events()):
        metrics.usage.observe(event, ["shell-pipe-to-shell"] if n == 3 else [])
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            out.setdefault(sample.name, set()).update(sample.labels)
    return out


def test_every_grafana_query_names_exported_families_and_labels():
    dashboard = json.loads(GRAFANA.read_text())
    samples = exported_samples()
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if v.get("type") == "query"]
    assert len(exprs) >= 12
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for wanted in ("daily active", "weekly active", "p95", "cache", "token burn", "error rate"):
        assert wanted in titles, wanted
    for expr in exprs:
        names = re.findall(r"\bspanwatch_\w+", expr)
        assert names, expr
        for name in names:
            assert name in samples, f"{name} is not exported ({expr})"
        for name, selector in re.findall(r"\b(spanwatch_\w+)\{([^}]*)\}", expr):
            for label in re.findall(r"(\w+)\s*(?:=~|!=|!~|=)", selector):
                assert label in samples[name], f"{name} has no label {label}"
        labels_of_expr = set().union(*(samples[n] for n in names))
        for grouping in re.findall(r"\bby \(([^)]*)\)", expr):
            for label in grouping.split(","):
                assert label.strip() in labels_of_expr, f"no label {label} in {expr}"
        for function in re.findall(r"\b([a-z_]+)\s*\(", expr):
            assert function in PROMQL_WORDS, f"unexpected function {function} in {expr}"
        for _, label in re.findall(r"label_values\((\w+),\s*(\w+)\)", expr):
            assert label in labels_of_expr
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"repo", "workflow"} <= variables
    filtered = [e for e in exprs if "$repo" in e and "$workflow" in e]
    assert len(filtered) >= 6  # latency, cache, tokens, errors, cost, … follow the filters


def cloudwatch_queries() -> tuple[list[tuple[str, frozenset[str]]], list[dict]]:
    """(metric name, dimension names) of every widget query, and the variables."""
    body = json.loads(CLOUDWATCH.read_text())
    queries = []
    for widget in body["widgets"]:
        ids = set()
        expressions = []
        for entry in widget["properties"]["metrics"]:
            options = entry[-1] if isinstance(entry[-1], dict) else {}
            if "expression" in options:
                expressions.append(options["expression"])
                ids.add(options["id"])
                continue
            namespace, name, *rest = [x for x in entry if not isinstance(x, dict)]
            assert namespace == "Spanwatch"
            queries.append((name, frozenset(rest[0::2])))
            if "id" in options:
                ids.add(options["id"])
        for expression in expressions:
            search = re.match(r"SEARCH\('\{(\w+),([\w,]+)\} MetricName=\"(\w+)\"", expression)
            if search:
                assert search.group(1) == "Spanwatch"
                queries.append((search.group(3), frozenset(search.group(2).split(","))))
            else:  # metric math over the widget's own ids
                for name in re.findall(r"[a-z]\w*", expression):
                    assert name in ids, f"{name} in {expression} is no query of the widget"
    return queries, body["variables"]


def test_every_cloudwatch_widget_asks_for_a_metric_that_is_put():
    queries, variables = cloudwatch_queries()
    sets = {frozenset(k): set(v) for k, v in DIMENSION_SETS.items()}
    for name, dims in queries:
        assert dims in sets and name in sets[dims], (name, sorted(dims))
    asked = {name for name, _ in queries}
    assert {"ActiveUsers1d", "ActiveUsers7d", "LatencyMs", "CacheHits", "Tokens"} <= asked
    text = CLOUDWATCH.read_text()
    for variable in variables:
        assert variable["type"] == "pattern" and variable["pattern"] in text
        search = re.match(r"\{(\w+),([\w,]+)\} MetricName=\"(\w+)\"", variable["search"])
        assert search and variable["populateFrom"] in search.group(2).split(",")
    assert {v["populateFrom"] for v in variables} == {"Repo", "Workflow"}

    with moto_server() as url:
        client = boto3.client(
            "cloudwatch",
            region_name="us-east-1",
            endpoint_url=url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        usage = Usage(UsageRollup(minutes=True))
        for n, event in enumerate(events()):
            usage.observe(event, ["shell-pipe-to-shell"] if n == 3 else [])
        config = CloudWatchConfig(namespace="Spanwatch", endpoint_url=url)
        assert CloudWatchPublisher(config, usage, client=client).publish() > 0
        put = {
            (m["MetricName"], frozenset(d["Name"] for d in m["Dimensions"]))
            for page in client.get_paginator("list_metrics").paginate(Namespace="Spanwatch")
            for m in page["Metrics"]
        }
        for query in queries:
            assert query in put, f"nothing put for {query}"
        for variable in variables:
            search = re.match(r"\{(\w+),([\w,]+)\} MetricName=\"(\w+)\"", variable["search"])
            assert (search.group(3), frozenset(search.group(2).split(","))) in put
