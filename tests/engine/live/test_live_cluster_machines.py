"""One process per machine (`spanwatch run -i I -a …`), here two on loopback: OTLP taken by
either reaches the one incident book on process 0, acks go through process 0's API, and a
process that is lost stops the other, which a restart of both takes up from the snapshot."""

from __future__ import annotations

import json
import signal
from collections import Counter

import httpx

from tests.loopback_ports import free_port
from tests.patience import PATIENCE

from ..test_live_engine import ANSWER_TIMEOUT, TOKEN, Engine, send_pipe_to_shell


def _machines(tmp_path) -> list[Engine]:
    addresses = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    engines = []
    for i in range(2):
        (tmp_path / f"m{i}").mkdir()
        engines.append(Engine(tmp_path / f"m{i}", args=("-i", str(i), "-a", addresses)))
    return engines


def _stop_all(engines: list[Engine]) -> list[int]:
    """SIGTERM to every process first: a cluster's dataflow ends when all its inputs have."""
    for engine in engines:
        assert engine.proc is not None
        engine.proc.send_signal(signal.SIGTERM)
    return [engine.proc.wait(timeout=PATIENCE) for engine in engines if engine.proc]


def test_two_machines_share_one_incident_book_and_come_back_after_losing_one(tmp_path):
    first, second = engines = _machines(tmp_path)
    try:
        for engine in engines:
            engine.start()
        send_pipe_to_shell(second.otlp, "far-1")
        send_pipe_to_shell(first.otlp, "near-0")
        incident = first.wait_for(lambda i: i["group"].get("user") == "far-1", "far-1's incident")
        first.wait_for(lambda i: i["group"].get("user") == "near-0", "near-0's incident")
        assert second.incidents() == []  # process 1 keeps no views
        acked = httpx.post(
            f"{first.base}/v1/incidents/{incident['id']}/ack",
            json={"by": "oncall"},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=ANSWER_TIMEOUT,
        )
        assert acked.status_code == 200

        second.proc.send_signal(signal.SIGKILL)
        assert first.proc.wait(timeout=PATIENCE) == 2
        assert "a process of the cluster failed or cannot be reached" in first.log.read_text()
        for engine in engines:
            engine.start()
        send_pipe_to_shell(second.otlp, "far-2")
        first.wait_for(lambda i: i["group"].get("user") == "far-2", "far-2's incident")
        states = {i["group"]["user"]: i["status"] for i in first.incidents()}
        assert states == {"far-1": "acknowledged", "near-0": "firing", "far-2": "firing"}
        assert _stop_all(engines) == [0, 0]
    finally:
        for engine in engines:
            if engine.proc and engine.proc.poll() is None:
                engine.proc.kill()
    lines = (tmp_path / "m0" / "state" / "process-0" / "incident-log.jsonl").read_text()
    log = [json.loads(line) for line in lines.splitlines()]
    kinds = Counter((line["type"], line["incident"]["group"]["user"]) for line in log)
    assert kinds == {
        ("incident.opened", "far-1"): 1,
        ("incident.opened", "near-0"): 1,
        ("incident.acknowledged", "far-1"): 1,
        ("incident.opened", "far-2"): 1,
    }
