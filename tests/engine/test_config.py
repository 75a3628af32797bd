"""Configuration: embedded defaults, the shipped example, and errors with file and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import SpanwatchConfig, load_config
from engine.yamlfile import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "spanwatch.yml"


def test_no_file_means_the_embedded_defaults():
    config = load_config(None)
    assert config == SpanwatchConfig()
    assert config.rules.packs == ["claude_code"]
    assert {r.name for r in config.notifiers.receivers} >= {"console", "incident-log"}
    assert config.detectors.detectors


def test_the_example_configuration_is_valid_and_resolves_rule_paths_next_to_it():
    config = load_config(EXAMPLE)
    assert config.rules.paths == [str(EXAMPLE.parent / "rules.d")]
    assert [d.id for d in config.detectors.detectors] == ["cost-per-team"]


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [str(p) for p in info.value.problems]


def test_a_misconfigured_detector_names_the_file_the_line_and_the_reason(tmp_path):
    found = problems(
        tmp_path,
        "detectors:\n"
        "  - id: cost\n"
        "    kind: seasonal\n"
        "    title: Cost\n"
        "    aggregation: sum\n"
        "    field: cost\n"
        "    interval: -5m\n",
    )
    assert len(found) >= 1
    assert any(p.startswith(f"{tmp_path / 'bad.yml'}:7: detectors.0.interval") for p in found), (
        found
    )


def test_every_problem_is_reported_not_only_the_first(tmp_path):
    found = problems(tmp_path, "stream:\n  tick: 0\n  shards: 0\nsurprise: 1\n")
    text = "\n".join(found)
    assert ":2: stream.tick" in text and ":3: stream.shards" in text and ":4: surprise" in text


def test_a_route_to_an_undefined_receiver_is_refused(tmp_path):
    found = problems(tmp_path, "incidents:\n  route:\n    receiver: pagerduty\n")
    assert any("pagerduty" in p for p in found)


def test_a_yaml_syntax_error_gives_its_line(tmp_path):
    found = problems(tmp_path, "stream:\n  tick: 5\n  shards: [1,\n")
    assert len(found) == 1 and "invalid YAML" in found[0]


def test_the_cli_stops_with_status_2_and_file_line_on_a_bad_config(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("stream:\n  allowed_lateness: -1\n")
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "replay", str(tmp_path), "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"{path}:2: stream.allowed_lateness" in done.stderr and "Traceback" not in done.stderr
