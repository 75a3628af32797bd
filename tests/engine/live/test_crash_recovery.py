"""Killed at random moments, `spanwatch run` loses nothing it answered 200 and does nothing twice.

A real OpenTelemetry SDK exporter (OTLP/HTTP, protobuf) and a raw HTTP client (OTLP/JSON) send
planted events, each with a serial number, while the engine is SIGKILLed at random moments,
over and over, and started again on the same state directory. Two rules count every planted
event of a user: one without a window (its hits take the lane of their own) and one correlation
window (`event_count`, one hit per event counted), so each incident's `count` is the number of
times the engine counted that user's events. Afterwards:

- every event answered 200 is in the intake log, and the log is the truth: each user's two
  incidents have counted exactly the events of that user that the log holds (a request whose
  answer was lost to a kill may be in the log and is then counted, once, like any delivery);
- no transition is in the incident log twice;
- the webhook, which answered every call, got no notification key twice, except where the run
  that sent it was killed before recording the answer (the webhook tells the runs apart by the
  path each is given: a request written just before a kill can be read by the webhook after
  the kill, so the moment it is read does not tell which run sent it).
"""

from __future__ import annotations

import json
import logging
import random
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from contextlib import closing
from itertools import pairwise
from pathlib import Path

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from engine.live.intake import decode_events
from engine.live.wal import IntakeLog
from engine.live.wal_format import EVENTS
from tests.patience import PATIENCE
from tests.webhook_server import WebhookServer

from ..test_live_engine import (
    INGEST_AUTH,
    READ_AUTH,
    free_port,
    start_planted_engine,
)

KILLS = 10
USERS = 12
RULES = Path(__file__).with_name("planted_rules.yml")


class Hook(WebhookServer):
    """A webhook that answers every call 200 and notes which engine run sent each key.

    Each run of the engine is given its own path (`/hook/<run>`), so a call is attributed to
    the run that sent it, however late the hook gets to read it: a request written just before
    a kill may wait in the socket and be read after the kill, or after the next run started.
    """

    @property
    def keys(self) -> Counter[str]:
        """How many calls carried each idempotency key."""
        return Counter(call.headers["Idempotency-Key"] for call in self.calls())

    @property
    def runs(self) -> dict[str, list[int]]:
        """Per key, the run of each call, in arrival order."""
        runs: dict[str, list[int]] = {}
        for call in self.calls():
            runs.setdefault(call.headers["Idempotency-Key"], []).append(int(call.name))
        return runs


def recorded_keys(state: Path) -> set[str]:
    """Notification keys whose delivery the engine has recorded (sent or given up)."""
    path = state / "delivery.sqlite"
    if not path.exists():
        return set()
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
        return {key for (key,) in db.execute("SELECT key FROM delivery_log")}


def recorded_attempts(state: Path) -> dict[str, int]:
    """Per recorded key, the attempts its delivery took (failed attempts carry over restarts)."""
    with closing(sqlite3.connect(f"file:{state / 'delivery.sqlite'}?mode=ro", uri=True)) as db:
        return dict(db.execute("SELECT key, attempts FROM delivery_log"))


class Engine:
    def __init__(self, tmp: Path, hook: Hook) -> None:
        self.hook = hook
        self.kills: list[float] = []
        self.recorded: list[set[str]] = []  # what the delivery log held after each kill
        self.otlp, self.api, self.grpc = free_port(), free_port(), free_port()
        self.state = tmp / "state"
        self.config = tmp / "spanwatch.yml"
        self.log = tmp / "engine.log"
        self.proc: subprocess.Popen | None = None

    @property
    def run(self) -> int:
        """The run now starting or alive: run n is ended by the n-th kill."""
        return len(self.kills)

    def write_config(self) -> None:
        """The same configuration for every run, but for the webhook path naming the run."""
        self.config.write_text(
            f"state_dir: {self.state}\n"
            "stream: {allowed_lateness: 1, tick: 1, heartbeat: 5, idle_timeout: 2}\n"
            f'live: {{otlp_http: "127.0.0.1:{self.otlp}", api: "127.0.0.1:{self.api}", '
            f'otlp_grpc: "127.0.0.1:{self.grpc}", epoch_seconds: 0.3}}\n'
            "notifiers:\n  receivers:\n"
            f'    - {{name: hook, type: webhook, url: "{self.hook.url(self.run)}"}}\n'
            "incidents:\n  update_interval: 0s\n"  # every count shows in the incident log
            "  noise_budget: {enabled: false}\n"  # one incident per planted user, never folded
            '  route: {receiver: hook, group_by: ["..."], group_wait: 0s}\n'
        )

    def start(self) -> None:
        self.write_config()
        self.proc = start_planted_engine(self.config, RULES, self.log, self.api)

    def kill(self) -> None:
        """SIGKILL the run, then note what its delivery log held (nothing writes it now)."""
        assert self.proc is not None
        self.kills.append(time.monotonic())
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.recorded.append(recorded_keys(self.state))

    def reap(self) -> None:
        """Whatever the test's outcome, no engine outlives it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=PATIENCE)

    def incidents(self) -> list[dict]:
        answer = httpx.get(
            f"http://127.0.0.1:{self.api}/v1/incidents?status=all", headers=READ_AUTH, timeout=30
        )
        return answer.json()["incidents"]


class Senders:
    """Two clients sending planted events until told to stop; what was answered 200."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.acked: set[int] = set()
        self.serial = 0
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.rng = random.Random(12)

    def next_events(self, n: int) -> list[tuple[int, str]]:
        with self.lock:
            out = [(self.serial + i, f"user-{(self.serial + i) % USERS}") for i in range(n)]
            self.serial += n
        return out

    def sdk_client(self) -> None:
        # the exporter logs every refused connection while the engine is down
        logging.getLogger("opentelemetry.exporter.otlp.proto.http").setLevel(logging.CRITICAL)
        memory = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({"service.name": "crash-test"}))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        tracer = provider.get_tracer("crash-test")
        exporter = OTLPSpanExporter(
            endpoint=f"http://127.0.0.1:{self.engine.otlp}/v1/traces",
            headers=INGEST_AUTH,
            timeout=2,
        )
        while not self.stopped.is_set():
            batch = self.next_events(self.rng.randint(1, 20))
            for serial, user in batch:
                with tracer.start_as_current_span("shell.run") as span:
                    span.set_attribute("command", f"echo planted-marker {serial}")
                    span.set_attribute("user", user)
                    span.set_attribute("serial", serial)
            spans = memory.get_finished_spans()
            memory.clear()
            while not self.stopped.is_set():
                if exporter.export(spans) is SpanExportResult.SUCCESS:
                    with self.lock:
                        self.acked.update(serial for serial, _ in batch)
                    break
                time.sleep(0.05)
        provider.shutdown()

    def raw_client(self) -> None:
        url = f"http://127.0.0.1:{self.engine.otlp}/v1/traces"
        headers = {"content-type": "application/json", **INGEST_AUTH}
        with httpx.Client(timeout=2) as client:
            while not self.stopped.is_set():
                batch = self.next_events(self.rng.randint(1, 30))
                now = time.time_ns()
                spans = [
                    {
                        "traceId": f"{serial + 1:032x}",
                        "spanId": f"{serial + 1:016x}",
                        "name": "shell.run",
                        "startTimeUnixNano": str(now - 1000),
                        "endTimeUnixNano": str(now),
                        "attributes": [
                            {
                                "key": "command",
                                "value": {"stringValue": f"planted-marker {serial}"},
                            },
                            {"key": "user", "value": {"stringValue": user}},
                            {"key": "serial", "value": {"intValue": str(serial)}},
                        ],
                    }
                    for serial, user in batch
                ]
                body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})
                while not self.stopped.is_set():
                    try:
                        if client.post(url, content=body, headers=headers).status_code == 200:
                            with self.lock:
                                self.acked.update(serial for serial, _ in batch)
                            break
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.05)


def logged_events(state: Path) -> list[dict]:
    log = IntakeLog(state / "wal")
    try:
        return [
            event
            for frame in log.frames(log.first, log.end)
            if frame.kind == EVENTS
            for event in decode_events(frame.payload)[1]
        ]
    finally:
        log.close()


def test_sigkills_at_random_moments_lose_nothing_answered_and_repeat_nothing(tmp_path, request):
    hook = Hook()
    engine = Engine(tmp_path, hook)
    request.addfinalizer(engine.reap)
    senders = Senders(engine)
    rng = random.Random(2024)
    engine.start()
    clients = [
        threading.Thread(target=senders.sdk_client),
        threading.Thread(target=senders.raw_client),
    ]
    for client in clients:
        client.start()
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.2, 2.0))
            engine.kill()
            engine.start()
        time.sleep(1.0)
    finally:
        senders.stopped.set()
        for client in clients:
            client.join(timeout=30)
    # everything sent so far is taken in; let the windows and the hits catch up
    deadline = time.monotonic() + PATIENCE
    events = logged_events(engine.state)
    expected = Counter(event["user"] for event in events)
    while time.monotonic() < deadline:
        counts = {(i["rule_id"], i["group"]["user"]): i["count"] for i in engine.incidents()}
        if all(
            counts.get((rule, user)) == n
            for user, n in expected.items()
            for rule in ("planted-hit", "planted-window")
        ):
            break
        time.sleep(0.3)
    assert engine.stop() == 0
    log_text = engine.log.read_text()

    serials = Counter(int(event["serial"]) for event in events)
    assert senders.acked, "nothing was answered 200"
    assert not senders.acked - set(serials), "events answered 200 are missing from the intake log"
    for rule in ("planted-hit", "planted-window"):
        got = {user: counts.get((rule, user)) for user in expected}
        assert got == dict(expected), (rule, log_text[-3000:])

    lines = [
        json.loads(raw) for raw in (engine.state / "incident-log.jsonl").read_text().splitlines()
    ]
    ids = Counter(line["id"] for line in lines)
    assert not [i for i, n in ids.items() if n > 1], "transitions written twice"
    opened = Counter(line["incident"]["id"] for line in lines if line["type"] == "incident.opened")
    assert not [i for i, n in opened.items() if n > 1]
    assert hook.keys
    # A key comes again only when the run that sent it was killed before it recorded the
    # answer (the one at-least-once edge, which the key lets a receiver drop): a later run sent
    # it again, and no delivery log left by the kills in between held it. Within one run, a key
    # comes again only as the retry of an attempt the engine counted as failed (the hook answers
    # every call, so only a client-side timeout can fail one): never more than it recorded.
    attempts = recorded_attempts(engine.state)
    repeats = [
        (key, runs)
        for key, runs in hook.runs.items()
        if any(
            any(key in engine.recorded[k] for k in range(first, again))
            for first, again in pairwise(sorted(runs))
        )
        or len(runs) - len(set(runs)) > attempts.get(key, 0) - 1
    ]
    assert not repeats, (
        f"notified again with neither a kill before its record nor a failed try: {repeats}"
    )
    # (a kill may come before a restart's first snapshot, or before its replay is through)
    assert log_text.count("recovery: resumed from a snapshot") >= 1, log_text[-3000:]
