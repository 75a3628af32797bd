"""The dispatcher: bounded intake, durable outbox, restarts, dedup, breaker, dead letters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from notifiers.config import FileReceiverConfig, WebhookReceiverConfig
from notifiers.dispatcher import Dispatcher
from tests.notifiers.conftest import deliver_all, fast_config, make_notification, wait_until
from tests.notifiers.fakes import Reply
from tests.patience import PATIENCE

REPO = Path(__file__).resolve().parents[2]


def hook_config(url: str, **delivery):
    return fast_config([WebhookReceiverConfig(name="hook", url=url + "/in")], **delivery)


def answered_ok(fake) -> int:
    return sum(1 for r in fake.requests if r.status == 200)


class Switch:
    """A responder that answers 500 until switched on, then 200."""

    def __init__(self) -> None:
        self.ok = threading.Event()

    def __call__(self, request):
        if self.ok.is_set():
            return Reply(200, "ok")
        return Reply(500, "down")


def test_restart_in_the_middle_of_a_retry_loop_neither_loses_nor_duplicates(
    service, tmp_path
) -> None:
    switch = Switch()
    fake = service(switch)
    config = hook_config(fake.url, backoff_initial_seconds=0.5, backoff_max_seconds=0.5)
    first = Dispatcher(config, tmp_path)
    first.start()
    first.submit(make_notification(receiver="hook"))
    fake.wait_for(1)  # the first attempt failed; the worker is now in its backoff
    first.close(timeout=0)
    assert first.stats.get("sent", 0) == 0 and first.stats["pending"] == 1

    switch.ok.set()
    second = Dispatcher(config, tmp_path)
    second.start()
    second.submit(make_notification(receiver="hook"))  # the engine re-emits after recovery
    second.close(timeout=PATIENCE)
    assert second.stats["sent"] == 1 and second.stats["deduplicated"] == 1
    assert answered_ok(fake) == 1 and len(fake.requests) == 2

    third = Dispatcher(config, tmp_path)
    third.start()
    third.submit(make_notification(receiver="hook"))
    third.close(timeout=PATIENCE)
    assert third.stats["deduplicated"] == 1 and len(fake.requests) == 2


def test_retry_budget_carries_over_a_restart(service, tmp_path) -> None:
    fake = service(lambda _r: Reply(500, "down"))
    config = hook_config(fake.url, max_attempts=2, backoff_initial_seconds=0.5)
    first = Dispatcher(config, tmp_path)
    first.start()
    first.submit(make_notification(receiver="hook"))
    fake.wait_for(1)
    first.close(timeout=0)
    stats = deliver_all(config, tmp_path, [])
    assert len(fake.requests) == 2  # one more attempt, not a fresh budget of two
    assert stats["dead_lettered"] == 1
    assert json.loads((tmp_path / "dead-letters.jsonl").read_text())["attempts"] == 2


CRASHING_PRODUCER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from notifiers.config import NotifiersConfig
    from notifiers.dispatcher import Dispatcher
    from tests.notifiers.conftest import make_notification
    config = NotifiersConfig.model_validate_json(sys.argv[3])
    dispatcher = Dispatcher(config, sys.argv[2])
    dispatcher.start()
    dispatcher.submit(make_notification(key="crash-1", receiver="hook"))
    while dispatcher.stats.get("failed_attempts", 0) < 1:
        time.sleep(0.01)
    print("failing", flush=True)
    time.sleep(60)
    """
)


def test_a_killed_process_resumes_its_outbox_and_delivers_exactly_once(service, tmp_path) -> None:
    switch = Switch()
    fake = service(switch)
    config = hook_config(fake.url, backoff_initial_seconds=0.2, max_attempts=50)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CRASHING_PRODUCER,
            str(REPO),
            str(tmp_path),
            config.model_dump_json(),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "failing"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    switch.ok.set()
    stats = deliver_all(config, tmp_path, [make_notification(key="crash-1", receiver="hook")])
    assert stats["sent"] == 1 and stats["deduplicated"] == 1
    assert answered_ok(fake) == 1


def test_a_full_intake_queue_dead_letters_instead_of_blocking(tmp_path) -> None:
    config = fast_config([FileReceiverConfig(name="log")], queue_size=2, submit_block_seconds=0)
    dispatcher = Dispatcher(config, tmp_path)  # not started: nothing drains the queue yet
    for i in range(3):
        dispatcher.submit(make_notification(key=f"k{i}", receiver="log"))
    letter = json.loads((tmp_path / "dead-letters.jsonl").read_text())
    assert letter["reason"] == "intake queue full" and letter["notification"]["key"] == "k2"
    dispatcher.start()
    dispatcher.close(timeout=PATIENCE)
    assert dispatcher.stats["sent"] == 2 and dispatcher.stats["queue_full"] == 1


def test_a_full_backlog_dead_letters_the_overflow(tmp_path) -> None:
    config = fast_config([FileReceiverConfig(name="log")], max_backlog=1)
    dispatcher = Dispatcher(config, tmp_path)
    for i in range(3):
        dispatcher.submit(make_notification(key=f"k{i}", receiver="log"))
    dispatcher.start()  # the journal takes all three in one batch
    dispatcher.close(timeout=PATIENCE)
    stats = dispatcher.stats
    assert stats["sent"] == 1 and stats["backlog_full"] == 2 and stats["dead_lettered"] == 2


def test_unknown_receiver_is_dead_lettered_not_dropped(tmp_path) -> None:
    stats = deliver_all(
        fast_config([FileReceiverConfig(name="log")]),
        tmp_path,
        [make_notification(receiver="nobody")],
    )
    assert stats["unknown_receiver"] == 1
    letter = json.loads((tmp_path / "dead-letters.jsonl").read_text())
    assert letter["receiver"] == "nobody" and "no receiver" in letter["reason"]


def test_breaker_opens_after_repeated_failures_and_pauses_the_receiver(service, tmp_path) -> None:
    fake = service(lambda _r: Reply(500, "down"))
    config = hook_config(
        fake.url,
        breaker_failure_threshold=2,
        breaker_reset_seconds=0.3,
        max_attempts=3,
        backoff_initial_seconds=0.001,
    )
    stats = deliver_all(config, tmp_path, [make_notification(receiver="hook")])
    assert stats["breaker_opened"] >= 1 and stats["dead_lettered"] == 1
    times = [r.at for r in fake.requests]
    assert len(times) == 3
    assert times[2] - times[1] >= 0.3  # nothing was sent while the circuit was open


def test_a_slow_receiver_does_not_hold_up_the_others(service, tmp_path) -> None:
    slow = service(lambda _r: Reply(200, "ok", held=True))
    config = fast_config(
        [
            WebhookReceiverConfig(name="slow", url=slow.url + "/in"),
            FileReceiverConfig(name="log"),
        ],
    )
    dispatcher = Dispatcher(config, tmp_path)
    dispatcher.start()
    dispatcher.submit(make_notification(receiver="slow"))
    slow.wait_for(1)
    dispatcher.submit(make_notification(receiver="log"))
    wait_until(lambda: (tmp_path / "incidents.jsonl").exists())
    assert dispatcher.stats["receivers"].get("slow", {}).get("sent", 0) == 0  # still busy
    slow.released.set()
    dispatcher.close(timeout=PATIENCE)
    assert dispatcher.stats["sent"] == 2


def test_submit_after_close_is_an_error(tmp_path) -> None:
    dispatcher = Dispatcher(fast_config([FileReceiverConfig(name="log")]), tmp_path)
    dispatcher.start()
    dispatcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        dispatcher.submit(make_notification(receiver="log"))


def test_old_delivery_log_entries_are_pruned_at_start(tmp_path) -> None:
    config = fast_config([FileReceiverConfig(name="log")], delivery_log_retention_seconds=0.05)
    deliver_all(config, tmp_path, [make_notification(receiver="log")])
    import time

    time.sleep(0.1)
    stats = deliver_all(config, tmp_path, [make_notification(receiver="log")])
    assert stats["sent"] == 1  # forgotten after the retention: sent again


def test_an_unreadable_outbox_row_is_dead_lettered_and_the_rest_delivered(tmp_path) -> None:
    from notifiers.store import DeliveryStore

    store = DeliveryStore(tmp_path / "delivery.sqlite")
    store.enqueue_many([("log", "broken", "{not json")])
    store.close()
    stats = deliver_all(
        fast_config([FileReceiverConfig(name="log")]), tmp_path, [make_notification(receiver="log")]
    )
    assert stats["sent"] == 1 and stats["dead_lettered"] == 1
    assert (tmp_path / "dead-letters.jsonl").read_text() == "{not json\n"
    assert (tmp_path / "incidents.jsonl").exists()
