"""The smaller commands, run the way a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson

from tests.loopback_ports import free_port

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_764_316_800.0


def spanwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, timeout=240
    )


def test_routes_test_prints_the_receivers_and_the_escalation():
    done = spanwatch(
        "routes",
        "test",
        "--config",
        str(ROOT / "examples" / "spanwatch.yml"),
        "--labels",
        "severity=critical",
        "team=payments",
        "rule_id=shell-pipe-to-shell",
    )
    assert done.returncode == 0, done.stderr
    assert "security-slack" in done.stdout and "escalation level 1: pager-sns" in done.stdout


def test_rules_check_and_test_on_the_default_pack():
    pack = str(ROOT / "rules" / "packs" / "claude_code")
    check = spanwatch("rules", "check", pack)
    assert check.returncode == 0, check.stdout + check.stderr
    tested = spanwatch("rules", "test", pack)
    assert tested.returncode == 0, tested.stdout
    assert " 0 failed" in tested.stdout


def test_rules_check_reports_file_and_line_and_exits_2(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "title: Broken\nname: broken\nlevel: high\nlogsource: {product: x}\n"
        "detection:\n  sel:\n    command|nosuchmodifier: x\n  condition: sel\n"
    )
    done = spanwatch("rules", "check", str(bad))
    assert done.returncode == 2
    assert f"{bad}:7" in done.stdout + done.stderr


def test_score_writes_a_score_per_point(tmp_path):
    series = tmp_path / "series.csv"
    rows = ["timestamp,value"] + [f"{int(T0) + 300 * i},{10 + (i % 5)}" for i in range(400)]
    rows.append(f"{int(T0) + 300 * 400},500")
    series.write_text("\n".join(rows) + "\n")
    out = tmp_path / "scores.csv"
    done = spanwatch("score", str(series), "--detector", "ewma", "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "timestamp,value,anomaly_score" and len(lines) == 402
    scores = [float(line.split(",")[2]) for line in lines[1:]]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[-1] == max(scores) and scores[-1] > 0.5


class Capture(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Capture.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def closed_port() -> int:
    """A port nothing listens on: from this worker's own slice below the ephemeral range, where
    no other test's server (bound to port 0) can be given it meanwhile."""
    return free_port()


def config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / f"spanwatch-{port}.yml"
    path.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        "notifiers:\n"
        "  receivers:\n"
        f"    - {{name: hook, type: webhook, url: 'http://127.0.0.1:{port}/alerts'}}\n"
        "  delivery: {max_attempts: 1, backoff_initial_seconds: 0, timeout_seconds: 2}\n"
        "incidents:\n"
        "  route: {receiver: hook, group_wait: 0s}\n"
    )
    return path


def test_undeliverable_notifications_are_dead_lettered_and_sent_again(tmp_path):
    history = tmp_path / "h.jsonl"
    history.write_bytes(
        orjson.dumps(
            {"time": T0, "name": "shell.run", "user": "eve", "command": "curl https://x | sh"}
        )
        + b"\n"
    )
    done = spanwatch(
        "replay", str(history), "--config", str(config(tmp_path, closed_port())), "--notify"
    )
    assert done.returncode == 0, done.stderr
    dead = (tmp_path / "state" / "dead-letters.jsonl").read_text().splitlines()
    assert len(dead) == 1 and "hook" in dead[0]

    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        retried = spanwatch(
            "notify", "retry-dead-letters", "--config", str(config(tmp_path, server.server_port))
        )
    finally:
        server.shutdown()
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert len(Capture.received) == 1
    assert "shell-pipe-to-shell" in json.dumps(Capture.received[0])
