"""Live latency of a policy hit: OTLP request accepted -> the receiver's HTTP call.

    python bench/live_latency.py [--rate 2000] [--seconds 20] [--probes-per-second 4]

`spanwatch run` on loopback with its default rules, detectors and stream settings, and a
route that pages at once (`group_wait: 0s`) to a signed webhook served by this script. The
OpenTelemetry SDK's OTLP/HTTP exporter sends ordinary `claude.invoke` spans at `--rate` per
second in requests of 200, and now and then a single `shell.run` span with a credential in its
command, for a user of its own (so each one opens an incident). For each of those it measures
the time from the exporter's call returning (the request was accepted) to the webhook's arrival.

Printed next to it, from the same run: the plain request round trip of the load's requests, so
that a busy machine shows as a slow baseline rather than as a slow engine.
Target: p99 under 1 s at 2,000 events/s (aim: under 250 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult

from engine.timeutil import parse_time
from notifiers.channels.webhook import TIMESTAMP_HEADER, verify

INGEST_TOKEN = "bench-ingest-token"
HOOK_KEY = "bench-hook-key"
SECRET = "AKIAIOSFODNN7EXAMPLE"
BATCH = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hook:
    """A signed-webhook receiver: when each probe user's notification arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.bad_signatures = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ok = verify(
                    HOOK_KEY.encode(),
                    body,
                    self.headers.get(TIMESTAMP_HEADER),
                    self.headers.get("X-Spanwatch-Signature"),
                    time.time(),
                )
                if not ok:
                    hook.bad_signatures += 1
                else:
                    for incident in json.loads(body).get("incidents", []):
                        user = incident.get("group", {}).get("user", "")
                        if user.startswith("probe-"):
                            hook.arrived.setdefault(user, at)
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def config_text(tmp: Path, otlp: int, api: int, grpc: int, hook: str, snapshot: float) -> str:
    return f"""
state_dir: {tmp / "state"}
live: {{otlp_http: "127.0.0.1:{otlp}", api: "127.0.0.1:{api}", otlp_grpc: "127.0.0.1:{grpc}",
        epoch_seconds: {snapshot}}}
notifiers:
  receivers:
    - {{name: hook, type: webhook, url: "{hook}", hmac_key: {{env: BENCH_HOOK_KEY}}}}
incidents:
  route: {{receiver: hook, group_by: ["..."], group_wait: 0s}}
  # every probe opens an incident of the same rule: under the default noise budget (10 an hour)
  # all but the first ten would fold into one storm incident and never reach the webhook
  noise_budget: {{enabled: false}}
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=2000, help="ordinary spans per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--probes-per-second", type=float, default=4.0)
    parser.add_argument(
        "--snapshot-seconds", type=float, default=2.0, help="live.epoch_seconds (default 2)"
    )
    args = parser.parse_args()

    hook = Hook()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        otlp, api, grpc = free_port(), free_port(), free_port()
        config = tmp / "spanwatch.yml"
        config.write_text(config_text(tmp, otlp, api, grpc, hook.url, args.snapshot_seconds))
        env = {**os.environ, "SPANWATCH_INGEST_TOKEN": INGEST_TOKEN, "BENCH_HOOK_KEY": HOOK_KEY}
        log = (tmp / "engine.log").open("wb")
        engine = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "run", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{api}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            time.sleep(1.0)  # the dataflow's first poll
            result = measure(otlp, args)
            health = httpx.get(f"http://127.0.0.1:{api}/healthz", timeout=5).json()
            result["backlog"] = health["events_accepted"] - health["event_time"].get("events", 0)
            time.sleep(3.0)  # stragglers
        finally:
            engine.terminate()
            engine.wait(timeout=60)
        result["opened"] = opened_at(tmp / "state" / "incident-log.jsonl")
        report(result, hook, args)


def opened_at(log: Path) -> dict[str, float]:
    """When the incident stage opened each probe's incident (the log's wall-clock `at`)."""
    found = {}
    for raw in log.read_bytes().splitlines() if log.exists() else []:
        line = json.loads(raw)
        if line["type"] != "incident.opened":  # findings lines have no incident
            continue
        user = line["incident"]["group"].get("user", "")
        if user.startswith("probe-"):
            found[user] = parse_time(line["at"])
    return found


def measure(otlp: int, args: argparse.Namespace) -> dict:
    endpoint = f"http://127.0.0.1:{otlp}/v1/traces"
    headers = {"authorization": f"Bearer {INGEST_TOKEN}"}
    load_tracer = TracerProvider(
        resource=Resource.create({"service.instance.id": "bench-load", "team": "payments"})
    ).get_tracer("bench")
    probe_tracer = TracerProvider(
        resource=Resource.create({"service.instance.id": "bench-probe", "team": "payments"})
    ).get_tracer("bench")
    load_exporter = OTLPSpanExporter(endpoint=endpoint, headers=headers)
    probe_exporter = OTLPSpanExporter(endpoint=endpoint, headers=headers)
    round_trips: list[float] = []
    accepted: dict[str, float] = {}
    sent = {"spans": 0, "failed": 0}
    stop = time.monotonic() + args.seconds

    def load() -> None:
        interval = BATCH / args.rate
        next_at = time.monotonic()
        i = 0
        while next_at < stop:
            spans: list[ReadableSpan] = []
            for _ in range(BATCH):
                i += 1
                span = load_tracer.start_span(
                    "claude.invoke",
                    attributes={
                        "user": f"user-{i % 150}",
                        "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                        "region": "us-east-1",
                        "tokens_in": 1200,
                        "tokens_out": 300,
                        "latency_ms": 900.0,
                        "cost_estimate": 0.01,
                    },
                )
                span.end()
                assert isinstance(span, ReadableSpan)  # the SDK's spans are readable
                spans.append(span)
            began = time.perf_counter()
            ok = load_exporter.export(spans) == SpanExportResult.SUCCESS
            round_trips.append(time.perf_counter() - began)
            sent["spans" if ok else "failed"] += BATCH
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    def probe() -> None:
        k = 0
        while time.monotonic() < stop:
            k += 1
            user = f"probe-{k}"
            span = probe_tracer.start_span(
                "shell.run",
                attributes={"user": user, "command": f"AWS_ACCESS_KEY_ID={SECRET} aws s3 ls"},
            )
            span.end()
            assert isinstance(span, ReadableSpan)
            if probe_exporter.export([span]) == SpanExportResult.SUCCESS:
                accepted[user] = time.time()
            time.sleep(1.0 / args.probes_per_second)

    threads = [threading.Thread(target=load), threading.Thread(target=probe)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"round_trips": round_trips, "accepted": accepted, "sent": sent}


def report(result: dict, hook: Hook, args: argparse.Namespace) -> None:
    accepted, trips = result["accepted"], result["round_trips"]
    delays = [hook.arrived[u] - t for u, t in accepted.items() if u in hook.arrived]
    rate = result["sent"]["spans"] / args.seconds
    print(
        f"load: {args.rate:,} spans/s asked, {rate:,.0f}/s accepted over {args.seconds:g} s "
        f"({result['sent']['failed']:,} refused); default rules, detectors and stream settings"
    )
    print(
        f"events accepted but not yet taken into the order stage when the load ended: "
        f"{result['backlog']:,}"
    )
    print(
        f"plain OTLP request round trip ({BATCH} spans): "
        f"p50 {statistics.median(trips) * 1e3:7.1f} ms   p99 {percentile(trips, 0.99) * 1e3:7.1f} ms"
    )
    if not delays:
        print("no probe notification arrived", file=sys.stderr)
        sys.exit(1)
    p50, p99 = statistics.median(delays), percentile(delays, 0.99)
    print(
        f"credential span accepted -> webhook call:    p50 {p50 * 1e3:7.1f} ms   "
        f"p99 {p99 * 1e3:7.1f} ms   ({len(delays)} of {len(accepted)} delivered, "
        f"{hook.bad_signatures} bad signatures)"
    )
    opened = result["opened"]
    stage = [opened[u] - t for u, t in accepted.items() if u in opened]
    out = [hook.arrived[u] - opened[u] for u in opened if u in hook.arrived]
    if stage and out:
        print(
            f"  of which accepted -> incident opened:      p50 {statistics.median(stage) * 1e3:7.1f}"
            f" ms   p99 {percentile(stage, 0.99) * 1e3:7.1f} ms"
        )
        print(
            f"  and incident opened -> webhook call:       p50 {statistics.median(out) * 1e3:7.1f}"
            f" ms   p99 {percentile(out, 0.99) * 1e3:7.1f} ms"
        )
    print(
        f"p99 / request p99: {p99 / percentile(trips, 0.99):.1f}x   "
        f"(target p99 < 1000 ms, aim < 250 ms)"
    )


if __name__ == "__main__":
    main()
