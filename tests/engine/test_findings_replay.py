"""Findings as a user meets them: `spanwatch simulate` a day with a pull request opened over
failing checks, replay it on the defaults, and the quality rules record findings and one
digest, but open no incident; the configuration promotes them back to incidents; the digest
reaches a Slack-like webhook once per period with its counts; bad settings name their line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.webhook_server import WebhookServer

QUALITY = {"pr-without-passing-assertion", "repeated-assertion-failures"}


def spanwatch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args],
        capture_output=True, text=True, timeout=900, env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One simulated day of 20 people, with its injected pull request over failing checks."""
    here = tmp_path_factory.mktemp("history")
    out, truth = here / "history.jsonl", here / "truth.jsonl"
    done = spanwatch("simulate", "--days", "1", "--users", "20", "--seed", "2", "--quiet",
                     "--out", str(out), "--truth", str(truth))  # fmt: skip
    assert done.returncode == 0, done.stderr
    kinds = [orjson.loads(line)["kind"] for line in truth.read_bytes().splitlines()]
    assert "pr_without_passing_assertions" in kinds
    return out


def replay(tmp: Path, history: Path, *options: str, env: dict[str, str] | None = None) -> list:
    log = tmp / "incidents.jsonl"
    done = spanwatch("replay", str(history), "--out", str(log), "--quiet", *options, env=env)
    assert done.returncode == 0, done.stderr
    return [orjson.loads(line) for line in log.read_bytes().splitlines()]


def of_type(rows: list[dict], kind: str, key: str) -> list[dict]:
    return [r[key] for r in rows if r["type"] == kind]


def test_quality_rules_record_findings_and_one_digest_and_page_no_one(tmp_path, history):
    rows = replay(tmp_path, history, "--notifications", str(tmp_path / "notes.jsonl"))
    opened = of_type(rows, "incident.opened", "incident")
    findings = of_type(rows, "finding.recorded", "finding")
    digests = of_type(rows, "finding.digest", "digest")
    assert not [i for i in opened if i["rule_id"] in QUALITY]
    assert opened  # the day's other incidents still open (the engine is not silenced)
    pr = [f for f in findings if f["rule_id"] == "pr-without-passing-assertion"]
    assert pr and all(set(f["group"]) == {"user", "session"} for f in pr)
    assert len(digests) == 1  # one day, one route: one digest
    assert digests[0]["findings"] == len(findings)
    assert digests[0]["rules"]["pr-without-passing-assertion"] == len(pr)
    notes = [orjson.loads(x) for x in (tmp_path / "notes.jsonl").read_bytes().splitlines()]
    told = [n for n in notes if n["transition"] == "finding.digest"]
    assert sorted(n["receiver"] for n in told) == ["console", "incident-log"]
    paged = {i for n in notes if n["transition"] != "finding.digest" for i in n["incidents"]}
    assert not paged & {f["id"] for f in findings}


def test_the_configuration_promotes_a_finding_rule_back_to_incidents(tmp_path, history):
    config = tmp_path / "spanwatch.yml"
    config.write_text("rules:\n  produces:\n    pr-without-passing-assertion: incident\n")
    rows = replay(tmp_path, history, "--config", str(config))
    opened = of_type(rows, "incident.opened", "incident")
    assert [i for i in opened if i["rule_id"] == "pr-without-passing-assertion"]
    findings = of_type(rows, "finding.recorded", "finding")
    assert not [f for f in findings if f["rule_id"] == "pr-without-passing-assertion"]


def test_the_configuration_demotes_a_noisy_rule_to_findings(tmp_path, history):
    config = tmp_path / "spanwatch.yml"
    baseline = of_type(replay(tmp_path, history), "incident.opened", "incident")
    rule = sorted(i["rule_id"] for i in baseline if i["source"] == "rule")[0]
    config.write_text(f"rules:\n  produces:\n    {rule}: finding\n")
    rows = replay(tmp_path, history, "--config", str(config))
    assert rule not in {i["rule_id"] for i in of_type(rows, "incident.opened", "incident")}
    assert rule in {f["rule_id"] for f in of_type(rows, "finding.recorded", "finding")}


def test_the_digest_reaches_a_slack_webhook_once_per_period_with_its_counts(tmp_path, history):
    server = WebhookServer()
    config = tmp_path / "spanwatch.yml"
    config.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        "notifiers:\n"
        "  receivers:\n"
        "    - {name: console, type: console}\n"
        "    - {name: quality, type: slack, webhook_url: {env: QUALITY_SLACK_URL},"
        " min_interval_seconds: 0}\n"
        "incidents:\n"
        "  route:\n"
        "    receiver: console\n"
        "    routes:\n"
        "      - {matchers: ['produces=\"finding\"'], receiver: quality}\n"
        "  findings: {digest_interval: 6h}\n"
    )
    try:
        rows = replay(tmp_path, history, "--config", str(config), "--notify",
                      env={"QUALITY_SLACK_URL": server.url("quality")})  # fmt: skip
    finally:
        server.server.shutdown()
    digests = of_type(rows, "finding.digest", "digest")
    assert digests and all(d["route"] == "root.0" for d in digests)
    calls = server.calls()
    assert len(calls) == len(digests)  # the route hears nothing else, once per period
    for call, digest in zip(calls, digests, strict=True):
        text = json.dumps(json.loads(call.body))
        assert f"{digest['findings']} findings" in text
        assert "pr-without-passing-assertion" in text


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("pr-without-passing-assertion: page", "incident"),
        ("no-such-rule: finding", "no loaded rule has the id 'no-such-rule'"),
    ],
)
def test_a_bad_setting_is_an_error_at_its_line(tmp_path, history, setting, message):
    config = tmp_path / "spanwatch.yml"
    config.write_text(f"# quality rules\nrules:\n  produces:\n    {setting}\n")
    done = spanwatch("replay", str(history), "--config", str(config), "--quiet",
                     "--out", str(tmp_path / "log.jsonl"))  # fmt: skip
    assert done.returncode == 2
    assert f"{config}:4" in done.stderr and message in done.stderr, done.stderr
    assert not (tmp_path / "log.jsonl").exists()
