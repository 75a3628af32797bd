"""`spanwatch run` that cannot start says why in one line per reason, and starts nothing."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from tests.loopback_ports import free_port
from tests.patience import PATIENCE

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "spanwatch.yml"
SECRETS = ("SLACK_BOT_TOKEN", "TEAMS_WEBHOOK_URL")


def example_config(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """The shipped example, with its state and ports moved to where a test may use them."""
    ports = {"otlp_http": free_port(), "otlp_grpc": free_port(), "api": free_port()}
    text = EXAMPLE.read_text()
    text = text.replace("state_dir: /var/lib/spanwatch", f"state_dir: {tmp_path / 'state'}")
    text = text.replace('otlp_http: "0.0.0.0:4318"', f'otlp_http: "127.0.0.1:{ports["otlp_http"]}"')
    text = text.replace(
        'api: "0.0.0.0:8080"',
        f'api: "127.0.0.1:{ports["api"]}"\n  otlp_grpc: "127.0.0.1:{ports["otlp_grpc"]}"',
    )
    assert str(ports["api"]) in text and str(ports["otlp_grpc"]) in text
    shutil.copytree(EXAMPLE.parent / "rules.d", tmp_path / "rules.d")
    path = tmp_path / "spanwatch.yml"
    path.write_text(text)
    return path, ports


def run(config: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in SECRETS}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        env=environ,
    )


def test_receivers_without_their_secrets_stop_the_start_naming_receiver_and_variable(tmp_path):
    config, _ = example_config(tmp_path)
    done = run(config)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith(
        "spanwatch: receiver 'security-slack': environment variable SLACK_BOT_TOKEN is not set"
    )
    assert lines[1].startswith(
        "spanwatch: receiver 'platform-teams': environment variable TEAMS_WEBHOOK_URL is not set"
    )
    assert all("does not start with a receiver it cannot use" in line for line in lines)


def test_one_missing_secret_is_one_line(tmp_path, monkeypatch, capsys):
    config, _ = example_config(tmp_path)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.setenv("TEAMS_WEBHOOK_URL", "https://example.invalid/hook")
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "'security-slack'" in err and "SLACK_BOT_TOKEN" in err


def run_here(config: Path, monkeypatch, capsys) -> tuple[int, str]:
    """The same command in this process (quicker), with both secrets set."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("TEAMS_WEBHOOK_URL", "https://x.invalid/h")
    code = main(["run", "--config", str(config)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("setting", ["otlp_http", "otlp_grpc", "api"])
def test_a_busy_port_names_the_address_and_the_setting(tmp_path, setting, monkeypatch, capsys):
    config, ports = example_config(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports[setting]))
        holder.listen()
        code, err = run_here(config, monkeypatch, capsys)
    assert code == 2
    assert err == (
        f"spanwatch: cannot listen on 127.0.0.1:{ports[setting]} (live.{setting}): "
        f"Address already in use; set live.{setting} to a free HOST:PORT\n"
    )
    for port in ports.values():  # whatever was bound before the busy one is free again
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port if port != ports[setting] else 0))


def test_a_state_dir_that_cannot_be_created_is_one_line(tmp_path, monkeypatch, capsys):
    config, _ = example_config(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config.write_text(
        config.read_text().replace(f"state_dir: {tmp_path / 'state'}", f"state_dir: {blocker}/s")
    )
    code, err = run_here(config, monkeypatch, capsys)
    assert code == 2
    assert err == f"{config}:5: state_dir: {blocker}/s: cannot be created (Not a directory)\n"
