"""Does a slow receiver slow the pipeline? 10,000 notifications, producer rate with and without.

The producer stands in for the dataflow: it builds each notification (the incident stage's
work) and calls `Dispatcher.submit`. Three runs in one process, same machine, same moment:

  pipeline alone    build notifications, submit to nothing (the ceiling)
  fast receiver     submit to a dispatcher delivering to a local file
  slow receiver     submit to a dispatcher delivering to an HTTP endpoint taking 50 ms a request

Each run is repeated (alternating) and the median printed. Two producer shapes: a bare loop
that only builds and submits (the worst case: any background thread shows up as GIL contention)
and a pipeline-like loop that also does the work of EVENTS_PER_NOTIFICATION decoded events per
notification (closer to the dataflow, where notifications are rare compared with events).

The ratio slow/fast should be close to 1: delivery runs in its own threads off a bounded
queue and a durable outbox, so the backlog of the slow receiver is not the producer's problem.
Run: .venv/bin/python bench/notify_backpressure.py [count]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from notifiers.config import (
    DeliveryConfig,
    FileReceiverConfig,
    NotifiersConfig,
    WebhookReceiverConfig,
)
from notifiers.dispatcher import Dispatcher
from notifiers.model import IncidentData, Notification

SLOW_SECONDS = 0.05
EVENTS_PER_NOTIFICATION = 20
REPEATS = 3
RAW_EVENT = json.dumps(
    {
        "name": "shell.run",
        "user": "alice",
        "team": "payments",
        "repo": "api",
        "command": "ls -la",
        "exit_code": 0,
        "latency_ms": 12.5,
        "session.id": "s-1",
        "time": 1795000000.0,
    }
)


class SlowHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(SLOW_SECONDS)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def notification(i: int, receiver: str) -> Notification:
    incident: IncidentData = {
        "id": f"inc-{i}",
        "fingerprint": f"fp-{i % 97}",
        "source": "rule",
        "rule_id": "shell-pipe-to-shell",
        "title": "Shell command pipes a download into a shell",
        "severity": "critical",
        "status": "firing",
        "group": {"user": f"user{i % 50}", "team": "payments"},
        "first_seen": "2026-11-28T03:04:05Z",
        "last_seen": "2026-11-28T03:04:05Z",
        "count": i,
        "escalation_level": 0,
        "labels": {},
        "evidence": {
            "samples": [{"data": {"command": "curl -s https://get.example.com | sh", "n": i}}],
            "omitted": 0,
        },
    }
    return Notification(
        key=f"k{i}",
        receiver=receiver,
        status="firing",
        transition="incident.opened",
        at="2026-11-28T03:04:05Z",
        group_labels={"team": "payments"},
        incidents=[incident],
    )


def pipeline_work(events: int) -> int:
    """Stand-in for the dataflow's per-event work: decode and normalise `events` records."""
    total = 0
    for _ in range(events):
        event = json.loads(RAW_EVENT)
        flat = {k.replace(".", "_"): v for k, v in event.items()}
        total += len(flat)
    return total


def produce(count: int, submit, receiver: str, events: int) -> float:
    """Notifications per second of the producer loop."""
    start = time.perf_counter()
    for i in range(count):
        pipeline_work(events)
        submit(notification(i, receiver))
    return count / (time.perf_counter() - start)


def run_dispatcher(count: int, receiver_config, state_dir: Path, events: int) -> tuple[float, dict]:
    config = NotifiersConfig(
        receivers=[receiver_config], delivery=DeliveryConfig(timeout_seconds=5)
    )
    dispatcher = Dispatcher(config, state_dir)
    dispatcher.start()
    rate = produce(count, dispatcher.submit, receiver_config.name, events)
    stats = dispatcher.stats
    dispatcher.close(timeout=0)  # the slow backlog stays in the outbox for the next start
    return rate, stats


def measure(count: int, url: str, events: int, tmp: Path) -> None:
    rates: dict[str, list[float]] = {"alone": [], "fast": [], "slow": []}
    slow_stats: dict = {}
    for run in range(REPEATS):
        rates["alone"].append(produce(count, lambda _n: None, "none", events))
        fast, _ = run_dispatcher(
            count, FileReceiverConfig(name="file"), tmp / f"f{events}-{run}", events
        )
        rates["fast"].append(fast)
        slow, slow_stats = run_dispatcher(
            count, WebhookReceiverConfig(name="slow", url=url), tmp / f"s{events}-{run}", events
        )
        rates["slow"].append(slow)
    alone, fast, slow = (statistics.median(rates[k]) for k in ("alone", "fast", "slow"))
    print(f"-- producer doing {events} events of work per notification, median of {REPEATS}")
    print(f"pipeline alone             {alone:12,.0f} notifications/s")
    print(f"with a fast receiver       {fast:12,.0f} notifications/s")
    print(
        f"with a slow receiver       {slow:12,.0f} notifications/s  "
        f"({SLOW_SECONDS * 1000:.0f} ms per request)"
    )
    print(f"ratio slow / fast          {slow / fast:12.2f}")
    print(f"ratio slow / alone         {slow / alone:12.2f}")
    print(
        f"slow receiver when the burst ended: sent {slow_stats.get('sent', 0)}, waiting "
        f"{slow_stats['pending'] + slow_stats['intake']}, "
        f"dead-lettered {slow_stats.get('dead_lettered', 0)}"
    )


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    print(f"{count} notifications per run")
    with tempfile.TemporaryDirectory() as tmp:
        for events in (0, EVENTS_PER_NOTIFICATION):
            measure(count, url, events, Path(tmp))
    server.shutdown()


if __name__ == "__main__":
    main()
