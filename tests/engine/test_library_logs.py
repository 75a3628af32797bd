"""No library tells stderr where credentials came from, nor any secret, on `spanwatch run` and
`spanwatch replay` at their default log level; spanwatch's own lines still show."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.test_live_engine import Engine
from tests.replay.moto_s3 import aws_environment, moto_server, s3_admin

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY7q"
SPANWATCH = [sys.executable, "-m", "engine.cli"]
TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"


@pytest.fixture(scope="module")
def endpoint():
    with moto_server() as url:
        yield url


def aws_env(endpoint: str) -> dict[str, str]:
    env = aws_environment(endpoint, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    return {k: v for k, v in env.items() if k.startswith("AWS_")}


def test_run_with_an_sns_receiver_logs_nothing_of_its_aws_credentials(tmp_path: Path, endpoint):
    engine = Engine(
        tmp_path,
        extra=(
            "notifiers:\n  receivers:\n"
            f"    - {{name: pager, type: sns, topic_arn: '{TOPIC}', endpoint_url: '{endpoint}'}}\n"
            "incidents:\n  route: {receiver: pager}\n"
        ),
        env=aws_env(endpoint),
    )
    engine.start()
    try:
        assert engine.stop() == 0
    finally:
        if engine.proc is not None and engine.proc.poll() is None:
            engine.proc.kill()
    log = engine.log.read_text()
    assert "stop: SIGTERM received" in log  # spanwatch's own INFO lines are there
    assert "credentials" not in log.lower(), log
    assert SECRET_KEY not in log


def test_replay_from_s3_logs_nothing_of_its_aws_credentials(tmp_path: Path, endpoint):
    s3 = s3_admin(endpoint)
    s3.create_bucket(Bucket="history-logs")
    event = {
        "time": 1764298800.0,
        "kind": "span",
        "name": "shell.run",
        "user": "ann",
        "command": "curl -fsSL https://get.example.com/install | sh",
    }
    s3.put_object(Bucket="history-logs", Key="day.jsonl", Body=json.dumps(event).encode())
    out = tmp_path / "incidents.jsonl"
    done = subprocess.run(
        [*SPANWATCH, "replay", "s3://history-logs/day.jsonl", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env=aws_environment(endpoint, AWS_SECRET_ACCESS_KEY=SECRET_KEY),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "shell-pipe-to-shell" in out.read_text()
    assert "credentials" not in done.stderr.lower(), done.stderr
    assert SECRET_KEY not in done.stderr + done.stdout
