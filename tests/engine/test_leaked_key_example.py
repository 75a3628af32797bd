"""The worked example: a leaked access key in an assistant's command, replayed with --notify,
invokes the example's Lambda function once with the incident, and the function's handler finds
the key by its digest."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from engine.cli import main
from tests.notifiers.aws_targets import MotoProcess, event_invocations, make_function

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "leaked-key-responder"
FUNCTION = "spanwatch-deactivate-leaked-key"
KEY = "AKIA2E0A8F3B244C9986"  # made up: the shape of an AWS access key id


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoProcess]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        server = MotoProcess(tmp_path_factory.mktemp("moto") / "recording.jsonl")
        try:
            yield server
        finally:
            server.stop()


def example_config(tmp_path: Path, moto: MotoProcess, **responder: object) -> Path:
    config = yaml.safe_load((EXAMPLE / "spanwatch.yml").read_text())
    config["state_dir"] = str(tmp_path / "state")
    config["notifiers"]["responders"][0].update(endpoint_url=moto.url, **responder)
    path = tmp_path / "spanwatch.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def history(tmp_path: Path) -> Path:
    """An afternoon of shell commands, one of which pastes a key; flat JSON lines, out of order."""
    base = 1_790_000_000.0
    commands = [
        (base + 40, "alice", "s-1", "git status"),
        (base + 95, "bob", "s-9", "pytest -q"),
        (base + 60, "alice", "s-1", f"aws configure set aws_access_key_id {KEY} --profile ci"),
        (base + 30, "alice", "s-1", "ls -la"),
    ]
    path = tmp_path / "history.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "time": t,
                    "kind": "span",
                    "name": "shell.run",
                    "user": user,
                    "team": "payments",
                    "session": session,
                    "command": command,
                }
            )
            + "\n"
            for t, user, session, command in commands
        )
    )
    return path


def load_handler():
    spec = importlib.util.spec_from_file_location(
        "example_handler", EXAMPLE / "deactivate_leaked_key.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def test_the_leaked_key_incident_invokes_the_function_which_finds_the_key(
    moto, tmp_path, monkeypatch, caplog
):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    make_function(moto.url, FUNCTION)
    config = example_config(tmp_path, moto)
    out = tmp_path / "incidents.jsonl"
    args = ["replay", str(history(tmp_path)), "--config", str(config), "--out", str(out)]
    assert main([*args, "--notify"]) == 0

    [payload] = event_invocations(moto, FUNCTION)
    incident = payload["incident"]
    assert incident["rule_id"] == "credential-in-command" and incident["severity"] == "critical"
    assert incident["group"] == {"user": "alice", "session": "s-1"}
    assert payload["idempotency_key"] == f"deactivate-leaked-key/opened:{incident['id']}"
    assert KEY[4:] not in json.dumps(payload)

    caplog.set_level(logging.INFO)
    result = load_handler()(payload, None)
    digest = "sha256:" + hashlib.sha256(KEY.encode()).hexdigest()[:16]
    assert result == {"actions": [{"deactivate": digest, "user": "alice"}]}
    assert f"would deactivate the IAM access key {digest} leaked by alice" in caplog.text

    # the same history again, as after a restart: the incident was acted on already
    assert main([*args, "--notify"]) == 0
    assert len(event_invocations(moto, FUNCTION)) == 1


def test_in_dry_run_the_example_records_the_invocation_and_calls_nothing(moto, tmp_path):
    config = example_config(
        tmp_path,
        moto,
        dry_run=True,
        function="arn:aws:lambda:us-east-1:123456789012:function:not-deployed",
    )
    out = tmp_path / "incidents.jsonl"
    assert (
        main(
            [
                "replay",
                str(history(tmp_path)),
                "--config",
                str(config),
                "--out",
                str(out),
                "--notify",
            ]
        )
        == 0
    )
    [record] = [
        json.loads(line) for line in (tmp_path / "state" / "dry-run.jsonl").read_text().splitlines()
    ]
    assert record["would_call"] == "lambda:InvokeFunction"
    assert record["request"]["Payload"]["incident"]["rule_id"] == "credential-in-command"
    assert event_invocations(moto, "not-deployed") == []


def test_the_handler_ignores_what_it_is_not_for():
    handler = load_handler()
    assert handler(
        {"type": "incident.resolved", "incident": {"rule_id": "credential-in-command"}}, None
    ) == {"actions": []}
    opened = {
        "type": "incident.opened",
        "incident": {
            "rule_id": "credential-in-command",
            "evidence": {"command": "ghp_…[redacted]"},
        },
    }
    assert handler(opened, None) == {"actions": []}
