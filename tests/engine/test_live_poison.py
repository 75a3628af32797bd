"""`spanwatch run` meets the requests that used to stop it for good: it refuses them with the
reason, keeps its open incidents, and raises new ones (nothing of them is in its state, so a
restart has nothing to meet again)."""

from __future__ import annotations

import json
import time

import httpx

from tests.engine.test_live_engine import INGEST_AUTH, Engine, send_pipe_to_shell


def poisoned_request(user: str, **span_fields: str) -> bytes:
    now = time.time_ns()
    span = {
        "name": "claude.invoke",
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "startTimeUnixNano": str(now - 10**9),
        "endTimeUnixNano": str(now),
        "attributes": [
            {"key": "model", "value": {"stringValue": "us.anthropic.claude-sonnet-4-5"}},
            {"key": "tokens_in", "value": {"intValue": "9" * 310}},
        ],
        **span_fields,
    }
    resource = {"attributes": [{"key": "user", "value": {"stringValue": user}}]}
    body = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}
    return json.dumps(body).encode()


def test_poisoned_spans_are_refused_and_the_engine_keeps_detecting(tmp_path):
    e = Engine(tmp_path)
    e.start()
    try:
        send_pipe_to_shell(e.otlp, "before")
        first = e.wait_for(lambda i: i["group"].get("user") == "before", "the first incident")
        url = f"http://127.0.0.1:{e.otlp}/v1/traces"
        headers = {"content-type": "application/json", **INGEST_AUTH}
        huge = httpx.post(url, content=poisoned_request("huge"), headers=headers)
        assert huge.status_code == 400 and "310 digits" in huge.json()["message"]
        endless = poisoned_request("endless", endTimeUnixNano=str(2**64 - 1))
        assert httpx.post(url, content=endless, headers=headers).status_code == 400
        long_time = poisoned_request("long", endTimeUnixNano="9" * 400)
        assert httpx.post(url, content=long_time, headers=headers).status_code == 400

        send_pipe_to_shell(e.otlp, "after")
        e.wait_for(lambda i: i["group"].get("user") == "after", "an incident after the poison")
        assert e.proc.poll() is None
        (still,) = [i for i in e.incidents() if i["id"] == first["id"]]
        assert still["status"] == "firing"

        assert "Traceback" not in e.log.read_text()
        assert e.stop() == 0
    finally:
        if e.proc and e.proc.poll() is None:
            e.proc.kill()
