"""What answering only durable requests costs: accepted events per second with the intake log
synced before each answer, next to the same engine answering once the log is written.

    python bench/ingest_durability.py [--seconds 6] [--rounds 3] [--clients 4] [--spans 200]

Starts two `spanwatch run` on loopback with default settings, state on this machine's disk:
one with `live.wal_sync: true` (the default: one fdatasync per batch of requests) and one with
`live.wal_sync: false` (written, not synced: the closest the engine comes to having no intake
log). Clients post OTLP/HTTP protobuf requests (built by the OpenTelemetry SDK's encoder, spans
timed now) as fast as they are answered, in alternating rounds against one engine then the
other, so that a busy machine slows both alike. Prints the accepted events per second of each
(median of the rounds), the ratio (aim: at least 70%), and how many requests one fdatasync
carried on average (group commit).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

ROOT = Path(__file__).resolve().parents[1]
INGEST_TOKEN = "bench-ingest-token"
HEADERS = {"authorization": f"Bearer {INGEST_TOKEN}", "content-type": "application/x-protobuf"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Engine:
    def __init__(self, workdir: Path, sync: bool) -> None:
        workdir.mkdir()
        self.otlp, self.api, self.grpc = free_port(), free_port(), free_port()
        config = workdir / "spanwatch.yml"
        config.write_text(
            f"state_dir: {workdir / 'state'}\n"
            f'live: {{otlp_http: "127.0.0.1:{self.otlp}", api: "127.0.0.1:{self.api}", '
            f'otlp_grpc: "127.0.0.1:{self.grpc}", wal_sync: {str(sync).lower()}}}\n'
        )
        env = {**os.environ, "SPANWATCH_INGEST_TOKEN": INGEST_TOKEN}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "run", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=(workdir / "engine.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.otlp}/v1/traces"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if self.health() is not None:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit("an engine did not start")

    def health(self) -> dict:
        answer = httpx.get(f"http://127.0.0.1:{self.api}/healthz", timeout=5)
        answer.raise_for_status()
        return answer.json()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def bodies(spans: int, count: int, client: int) -> list[bytes]:
    """`count` requests of `spans` ordinary `claude.invoke` spans ending now."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.instance.id": f"c{client}"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    out = []
    for r in range(count):
        for i in range(spans):
            span = tracer.start_span(
                "claude.invoke",
                attributes={
                    "user": f"user-{(client * 7 + r * spans + i) % 300}",
                    "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                    "tokens_in": 1000 + i,
                    "tokens_out": 200 + r,
                    "latency_ms": 800.0 + i,
                },
            )
            span.end()
        out.append(encode_spans(memory.get_finished_spans()).SerializeToString())
        memory.clear()
    provider.shutdown()
    return out


def load(engine: Engine, args: argparse.Namespace, pools: list[list[bytes]]) -> dict:
    """Clients posting back to back for `args.seconds`: events answered 200, other answers."""
    counts: dict[str, float] = {"events": 0, "requests": 0, "refused": 0}
    lock = threading.Lock()
    stop = time.monotonic() + args.seconds

    def client(pool: list[bytes]) -> None:
        ok = refused = 0
        with httpx.Client(headers=HEADERS, timeout=30) as http:
            i = 0
            while time.monotonic() < stop:
                answer = http.post(engine.url, content=pool[i % len(pool)])
                i += 1
                if answer.status_code == 200:
                    ok += 1
                else:
                    refused += 1
                    time.sleep(0.05)
        with lock:
            counts["requests"] += ok
            counts["events"] += ok * args.spans
            counts["refused"] += refused

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(pool,)) for pool in pools]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts["rate"] = counts["events"] / (time.monotonic() - started)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per engine")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--spans", type=int, default=200, help="spans per request")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spanwatch-durability-", dir=ROOT) as tmp:
        synced = Engine(Path(tmp) / "synced", sync=True)
        unsynced = Engine(Path(tmp) / "unsynced", sync=False)
        try:
            synced.wait_ready()
            unsynced.wait_ready()
            time.sleep(1.0)  # the dataflows' first poll
            results: dict[str, list[dict]] = {"synced": [], "unsynced": []}
            for _ in range(args.rounds):
                for name, engine in (("synced", synced), ("unsynced", unsynced)):
                    pools = [bodies(args.spans, 8, c) for c in range(args.clients)]
                    results[name].append(load(engine, args, pools))
                    time.sleep(1.0)  # let its dataflow catch up before the other's round
            logs = {name: e.health()["intake_log"] for name, e in (("synced", synced),)}
        finally:
            synced.stop()
            unsynced.stop()
    report(results, logs["synced"], args)


def report(results: dict[str, list[dict]], log: dict, args: argparse.Namespace) -> None:
    rate = {name: statistics.median(r["rate"] for r in rounds) for name, rounds in results.items()}
    print(
        f"{args.clients} clients posting {args.spans}-span OTLP/HTTP requests back to back, "
        f"{args.rounds} rounds of {args.seconds:.0f} s per engine, alternating"
    )
    for name, rounds in results.items():
        each = ", ".join(f"{r['rate']:,.0f}" for r in rounds)
        refused = sum(r["refused"] for r in rounds)
        print(
            f"  intake log {name + ':':<10} {rate[name]:>9,.0f} events/s accepted "
            f"(rounds: {each}; {refused} answers other than 200)"
        )
    per_sync = log["frames"] / log["batches"] if log.get("batches") else 0.0
    print(f"  group commit: {per_sync:.1f} log frames per fdatasync on average (synced engine)")
    ratio = rate["synced"] / rate["unsynced"] if rate["unsynced"] else 0.0
    print(f"synced / unsynced: {ratio:.0%}   (aim: at least 70%)")


if __name__ == "__main__":
    main()
