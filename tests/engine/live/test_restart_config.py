"""A restarted engine keeps its incidents but runs on the configuration it is started with.

The engine is started, sees a problem, is stopped (its state is snapshotted), and is started
again on the same state directory with a configuration that adds a route sending high
incidents to a pager too. The incident opened before the restart is still open under its id
with its count (state is restored), and it reaches the new route's receiver (configuration
comes from the start, not from the snapshot), while the receiver that was told of it before
the restart is not told again.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.patience import PATIENCE
from tests.webhook_server import WebhookServer

from ..test_live_engine import (
    INGEST_AUTH,
    READ_AUTH,
    free_port,
    start_planted_engine,
)

RULES = Path(__file__).with_name("planted_rules.yml")
PAGER_ROUTE = "    routes: [{matchers: ['severity=\"high\"'], receiver: pager, continue: true}]\n"


class Receivers(WebhookServer):
    """Webhooks that answer 200 and keep, per receiver, the incident ids of each call."""

    def told(self, name: str) -> list[list[str]]:
        return [
            sorted(i["id"] for i in json.loads(call.body)["incidents"])
            for call in self.calls()
            if call.name == name
        ]


class Engine:
    def __init__(self, tmp: Path, receivers: Receivers) -> None:
        self.receivers = receivers
        self.otlp, self.api, self.grpc = free_port(), free_port(), free_port()
        self.state = tmp / "state"
        self.config = tmp / "spanwatch.yml"
        self.log = tmp / "engine.log"
        self.proc: subprocess.Popen | None = None

    def start(self, extra_route: str = "") -> None:
        self.config.write_text(
            f"state_dir: {self.state}\n"
            "stream: {allowed_lateness: 1, tick: 1, heartbeat: 5, idle_timeout: 2}\n"
            f'live: {{otlp_http: "127.0.0.1:{self.otlp}", api: "127.0.0.1:{self.api}", '
            f'otlp_grpc: "127.0.0.1:{self.grpc}", epoch_seconds: 0.3}}\n'
            "notifiers:\n  receivers:\n"
            f'    - {{name: team, type: webhook, url: "{self.receivers.url("team")}"}}\n'
            f'    - {{name: pager, type: webhook, url: "{self.receivers.url("pager")}"}}\n'
            "incidents:\n  noise_budget: {enabled: false}\n  update_interval: 0s\n"
            "  route:\n    receiver: team\n    group_by: [rule_id, user]\n    group_wait: 0s\n"
            + extra_route
        )
        self.proc = start_planted_engine(self.config, RULES, self.log, self.api)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(timeout=PATIENCE)

    def reap(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def send_planted(self, user: str, serial: int) -> None:
        now = time.time_ns()
        span = {
            "traceId": f"{serial + 1:032x}",
            "spanId": f"{serial + 1:016x}",
            "name": "shell.run",
            "startTimeUnixNano": str(now - 1000),
            "endTimeUnixNano": str(now),
            "attributes": [
                {"key": "command", "value": {"stringValue": f"planted-marker {serial}"}},
                {"key": "user", "value": {"stringValue": user}},
            ],
        }
        body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
        url = f"http://127.0.0.1:{self.otlp}/v1/traces"
        headers = {"content-type": "application/json", **INGEST_AUTH}
        assert httpx.post(url, content=body, headers=headers, timeout=30).status_code == 200

    def open_incident(self, rule_id: str) -> dict | None:
        answer = httpx.get(
            f"http://127.0.0.1:{self.api}/v1/incidents", headers=READ_AUTH, timeout=30
        )
        found = [i for i in answer.json()["incidents"] if i["rule_id"] == rule_id]
        return found[0] if found else None


def wait_for(what: str, check: Callable[[], object], engine: Engine) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, (
            f"{what}: not within {PATIENCE} s\n" + (engine.log.read_text()[-3000:])
        )
        time.sleep(0.1)


def counted(engine: Engine, rule_id: str) -> int | None:
    incident = engine.open_incident(rule_id)
    return None if incident is None else int(incident["count"])


def test_a_restart_keeps_the_incidents_and_takes_the_new_routes(tmp_path, request):
    receivers = Receivers()
    engine = Engine(tmp_path, receivers)
    request.addfinalizer(engine.reap)
    engine.start()
    for serial in range(3):
        engine.send_planted("ada", serial)
    wait_for("the incident told to the team", lambda: receivers.told("team"), engine)
    wait_for("three hits counted", lambda: counted(engine, "planted-hit") == 3, engine)
    before = engine.open_incident("planted-hit")
    assert before is not None and before["severity"] == "high"
    assert engine.stop() == 0

    engine.start(extra_route=PAGER_ROUTE)
    wait_for("the incident told to the pager", lambda: receivers.told("pager"), engine)
    after = engine.open_incident("planted-hit")
    assert after is not None and (after["id"], after["count"]) == (before["id"], 3)
    assert receivers.told("pager") == [[before["id"]]]
    time.sleep(2.0)  # a few flushes of the restored team group: nothing new to tell
    team = receivers.told("team")
    assert sum(ids.count(before["id"]) for ids in team) == 1, team
    assert engine.stop() == 0
