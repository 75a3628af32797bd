"""How much memory do large and hostile uploads cost `spanwatch run`? Peak RSS next to idle.

Starts the live engine on loopback with its default settings (only ports and state moved),
measures its resident memory at rest (the baseline), then under three loads, each printed as
peak RSS and the ratio to the baseline of the same run:

  slack-100mb   three unsigned 100 MB POSTs to /slack/actions (Content-Length, body sent)
  otlp-oversize three 40 MB OTLP/JSON bodies streamed chunked, past max_request_bytes
  otlp-11mb     three clients sending 11.5 MB OTLP/JSON requests (spans timed now) for
                DURATION seconds; prints the answers, the events taken, and the most the
                inbox held (estimated bytes, from /healthz)

Run: .venv/bin/python bench/ingest_pressure.py [DURATION]   (default 25 s; needs ~2 GB free)
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
INGEST_TOKEN = "bench-ingest-token"
REQUEST_MB = 11.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return None
    return None


class Engine:
    def __init__(self, workdir: Path) -> None:
        self.otlp, self.api, self.grpc = free_port(), free_port(), free_port()
        config = workdir / "spanwatch.yml"
        config.write_text(
            f"state_dir: {workdir / 'state'}\n"
            f'live: {{otlp_http: "127.0.0.1:{self.otlp}", api: "127.0.0.1:{self.api}", '
            f'otlp_grpc: "127.0.0.1:{self.grpc}"}}\n'
        )
        env = {
            **os.environ,
            "SPANWATCH_INGEST_TOKEN": INGEST_TOKEN,
            "SPANWATCH_API_TOKEN": "bench-api-token",
            "SLACK_SIGNING_SECRET": "bench-signing-secret",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "run", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=(workdir / "engine.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.api}/healthz", timeout=1).is_success:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit("the engine did not start")

    def health(self) -> dict:
        return httpx.get(f"http://127.0.0.1:{self.api}/healthz", timeout=5).json()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def under_load(engine: Engine, clients: list[Callable[[], None]]) -> tuple[float, dict]:
    """Run the clients in threads; the engine's peak RSS (MB) and the most its inbox held."""
    threads = [threading.Thread(target=c) for c in clients]
    for t in threads:
        t.start()
    peak, inbox = 0.0, {"events": 0, "bytes": 0}
    while any(t.is_alive() for t in threads):
        now = rss_mb(engine.proc.pid)
        if now is None:
            print("  the engine died")
            break
        peak = max(peak, now)
        try:
            held = engine.health().get("inbox", {})
            inbox = {k: max(inbox[k], held.get(k, 0)) for k in inbox}
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    for t in threads:
        t.join()
    return peak, inbox


def otlp_request(now_ns: int, size_mb: float) -> tuple[bytes, int]:
    spans, size, i = [], 0, 0
    while size < size_mb * 1e6:
        attrs = {
            "user": f"user{i % 150}@example.com",
            "team": f"team{i % 12}",
            "repo": f"repo-{i % 40}",
            "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "region": "us-east-1",
            "session.id": f"s-{i % 300}",
        }
        kv = [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()]
        kv += [
            {"key": "tokens_in", "value": {"intValue": str(1200 + i % 500)}},
            {"key": "tokens_out", "value": {"intValue": "300"}},
            {"key": "cost_estimate", "value": {"doubleValue": 0.012}},
        ]
        span = {
            "name": "claude.invoke",
            "traceId": f"{i + 1:032x}",
            "spanId": f"{i + 1:016x}",
            "startTimeUnixNano": str(now_ns - 10**9),
            "endTimeUnixNano": "END",
            "attributes": kv,
        }
        spans.append(span)
        size += len(json.dumps(span))
        i += 1
    body = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": spans}]}]}
    return json.dumps(body).encode(), len(spans)


def main() -> None:
    duration = float(sys.argv[1]) if len(sys.argv) > 1 else 25.0
    with tempfile.TemporaryDirectory(prefix="spanwatch-pressure-") as tmp:
        engine = Engine(Path(tmp))
        try:
            time.sleep(2)
            idle = rss_mb(engine.proc.pid) or 0.0
            print(f"idle RSS {idle:.0f} MB (the baseline)")

            def slack_upload() -> None:
                big = b"payload=" + b"x" * (100 << 20)
                headers = {"content-type": "application/x-www-form-urlencoded"}
                with httpx.Client(timeout=120) as client, contextlib.suppress(httpx.HTTPError):
                    client.post(
                        f"http://127.0.0.1:{engine.api}/slack/actions",
                        content=big,
                        headers=headers,
                    )

            peak, _ = under_load(engine, [slack_upload] * 3)
            print(f"slack-100mb    peak {peak:.0f} MB = {peak / idle:.2f}x idle")

            def oversize_upload() -> None:
                chunk = b" " * (1 << 20)
                headers = {
                    "content-type": "application/json",
                    "authorization": f"Bearer {INGEST_TOKEN}",
                }
                with httpx.Client(timeout=120) as client, contextlib.suppress(httpx.HTTPError):
                    client.post(
                        f"http://127.0.0.1:{engine.otlp}/v1/traces",
                        content=(chunk for _ in range(40)),
                        headers=headers,
                    )

            peak, _ = under_load(engine, [oversize_upload] * 3)
            print(f"otlp-oversize  peak {peak:.0f} MB = {peak / idle:.2f}x idle")

            template, per_request = otlp_request(time.time_ns(), REQUEST_MB)
            answers: Counter = Counter()
            taken = [0]
            lock = threading.Lock()
            stop_at = time.monotonic() + duration

            def exporter() -> None:
                headers = {
                    "content-type": "application/json",
                    "authorization": f"Bearer {INGEST_TOKEN}",
                }
                with httpx.Client(timeout=120) as client:
                    while time.monotonic() < stop_at:
                        body = template.replace(b'"END"', b'"%d"' % time.time_ns())
                        try:
                            code: int | str = client.post(
                                f"http://127.0.0.1:{engine.otlp}/v1/traces",
                                content=body,
                                headers=headers,
                            ).status_code
                        except httpx.HTTPError as exc:
                            code = type(exc).__name__
                        with lock:
                            answers[code] += 1
                            taken[0] += per_request if code == 200 else 0
                        if code == 429:
                            time.sleep(1)

            peak, inbox = under_load(engine, [exporter] * 3)
            print(
                f"otlp-11mb      peak {peak:.0f} MB = {peak / idle:.2f}x idle; answers {dict(answers)}; "
                f"{taken[0]} events taken; inbox held at most {inbox['events']} events, "
                f"~{inbox['bytes'] / 1e6:.0f} MB; engine alive: {engine.proc.poll() is None}"
            )
        finally:
            engine.stop()


if __name__ == "__main__":
    main()
