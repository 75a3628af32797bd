"""Responders in spanwatch's YAML: routes name them like receivers; mistakes are named with file
and line, and a responder that cannot work stops `spanwatch run` with one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import load_config
from engine.yamlfile import ConfigError

CONFIG = """\
state_dir: {state}
live: {{otlp_grpc: "127.0.0.1:0", otlp_http: "127.0.0.1:0", api: "127.0.0.1:0"}}
notifiers:
  receivers:
    - {{name: console, type: console}}
  responders:
    - name: deactivate-leaked-key
      type: lambda
      function: arn:aws:lambda:eu-west-1:123456789012:function:deactivate-leaked-key
      endpoint_url: http://127.0.0.1:9
incidents:
  route:
    receiver: console
    routes:
      - matchers: ['rule_id="credential-in-command"', 'severity="critical"']
        receiver: [console, {route_to}]
"""


def write(tmp_path: Path, route_to: str = "deactivate-leaked-key", **replace: str) -> Path:
    text = CONFIG.format(state=tmp_path / "state", route_to=route_to)
    for old, new in replace.items():
        text = text.replace(old, new)
    path = tmp_path / "spanwatch.yml"
    path.write_text(text)
    return path


def test_a_route_names_a_responder_like_a_receiver(tmp_path):
    config = load_config(write(tmp_path))
    [responder] = config.notifiers.responders
    assert responder.type == "lambda" and responder.transitions == ["incident.opened"]
    assert "deactivate-leaked-key" in config.incidents.receiver_names()


def test_a_route_to_an_unknown_responder_is_refused(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, route_to="deactivate-key"))
    assert "deactivate-key" in str(info.value) and "notifiers.responders" in str(info.value)


def test_a_misspelt_responder_field_names_the_file_the_entry_and_the_field(tmp_path):
    path = write(tmp_path, **{"      type: lambda\n": "      type: lambda\n      dryrun: true\n"})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = "\n".join(str(p) for p in info.value.problems)
    assert text == (
        f"{path}:7: notifiers.responders.0.lambda.dryrun: unknown key 'dryrun'"
        " (did you mean 'dry_run'?)"
    )


def test_run_stops_with_one_line_when_a_responder_cannot_reach_aws(tmp_path):
    path = write(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", "--config", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "spanwatch: responder 'deactivate-leaked-key': no AWS credentials found "
        "(environment, shared profile, container or instance role) (spanwatch does not start "
        "with a receiver it cannot use: fix it, or remove it and the routes to it)"
    )
    assert "Traceback" not in done.stderr
