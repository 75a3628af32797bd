"""A burst of 10,000 notifications to one slow receiver must not slow the dataflow.

Replays the same history through the whole pipeline with `--notify` twice, in this run:
once delivering to a local file (fast) and once to a webhook that takes 50 ms a request
(slow), and prints the pipeline's events per second for both and their ratio.
Run: .venv/bin/python bench/notify_pipeline.py [--notifications 10000] [--events-per 10]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson

from engine.config import load_config
from engine.replay_run import ReplayOptions, run_replay
from notifiers.dispatcher import Dispatcher

T0 = 1_764_316_800.0


class Slow(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        time.sleep(0.05)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def history(path: Path, notifications: int, events_per: int) -> int:
    with path.open("wb") as f:
        n = 0
        for i in range(notifications):
            t = T0 + i * 0.5
            f.write(
                orjson.dumps(
                    {"time": t, "name": "shell.run", "user": f"u{i}", "command": "curl x | sh"}
                )
                + b"\n"
            )
            for j in range(events_per - 1):
                f.write(
                    orjson.dumps(
                        {
                            "time": t + j * 0.01,
                            "name": "cache.lookup",
                            "user": f"u{i}",
                            "cache_hit": True,
                        }
                    )
                    + b"\n"
                )
            n += events_per
    return n


def config(tmp: Path, receiver: str) -> Path:
    path = tmp / f"{receiver.split(',')[0]}.yml"
    path.write_text(
        f"state_dir: {tmp / ('state-' + str(time.monotonic_ns()))}\n"
        "detectors: []\n"
        "notifiers:\n  receivers:\n"
        f"    - {receiver}\n"
        "  delivery: {max_attempts: 1, queue_size: 1000}\n"
        "incidents:\n  route: {receiver: out, group_by: [user], group_wait: 0s}\n"
    )
    return path


def run(tmp: Path, history_path: Path, receiver: str) -> tuple[float, int]:
    cfg = load_config(config(tmp, receiver))
    dispatcher = Dispatcher(cfg.notifiers, cfg.state_dir)
    dispatcher.start()
    try:
        report = run_replay(
            cfg,
            ReplayOptions(paths=[str(history_path)], out=str(tmp / "o.jsonl")),
            notify=dispatcher.submit,
        )
    finally:
        dispatcher.close(timeout=0.5)
    summary = report.result.summary
    assert summary is not None, "a finished replay has a summary"
    return summary.stats["events"] / report.seconds, report.result.notification_count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notifications", type=int, default=10_000)
    parser.add_argument("--events-per", type=int, default=10)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    slow = f"{{name: out, type: webhook, url: 'http://127.0.0.1:{server.server_port}/'}}"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        events = history(tmp / "h.jsonl", args.notifications, args.events_per)
        fast_rate, n_fast = run(tmp, tmp / "h.jsonl", "{name: out, type: file, path: sent.jsonl}")
        slow_rate, n_slow = run(tmp, tmp / "h.jsonl", slow)
        fast_rate2, _ = run(tmp, tmp / "h.jsonl", "{name: out, type: file, path: sent.jsonl}")
    server.shutdown()
    fast = (fast_rate + fast_rate2) / 2
    print(f"events {events:,}, notifications {n_fast:,} / {n_slow:,}")
    print(f"pipeline, fast receiver (file):        {fast:10,.0f} events/s")
    print(f"pipeline, slow receiver (50 ms/request): {slow_rate:8,.0f} events/s")
    print(f"slow / fast:                             {slow_rate / fast:8.2f}   (1.0 = no slowdown)")


if __name__ == "__main__":
    main()
