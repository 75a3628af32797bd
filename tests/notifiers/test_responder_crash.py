"""A process killed between sending an action and recording it neither loses nor repeats it.

The engine runs in a child process whose AWS endpoint is a proxy in front of moto: the proxy
passes the action's call on to moto and keeps moto's answer back, so the action has run but the
engine never hears of it; the child is SIGKILLed there. A new dispatcher on the same state
directory (the engine after its restart, re-emitting the same notification) finds the action
marked in flight: where AWS drops a repeat by the action's key (Step Functions execution names,
SQS FIFO deduplication ids) it sends again and AWS keeps one; elsewhere the action is
dead-lettered as in doubt instead of run a second time, unless the responder says its target
drops repeats itself (`in_doubt: resend`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from notifiers.config import NotifiersConfig
from tests.notifiers.aws_targets import (
    HoldingProxy,
    client,
    drain,
    event_invocations,
    executions,
    is_action_call,
    make_bus_to_queue,
    make_function,
    make_queue,
    make_state_machine,
)
from tests.notifiers.conftest import deliver_all, make_notification, responders_config
from tests.patience import PATIENCE

REPO = Path(__file__).resolve().parents[2]

ENGINE = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from notifiers.config import NotifiersConfig
    from notifiers.dispatcher import Dispatcher
    from tests.notifiers.conftest import make_notification
    config = NotifiersConfig.model_validate_json(sys.argv[3])
    dispatcher = Dispatcher(config, sys.argv[2])
    dispatcher.start()
    dispatcher.submit(make_notification(key="crash-1", receiver="act"))
    time.sleep(120)
    """
)


@dataclass
class Case:
    """A target, and how to count the times the action ran on it."""

    target: Callable[[str, Any], tuple[dict[str, Any], Callable[[], list[Any]]]]
    in_doubt: str | None
    runs: int  # times the action ran on the target in the end
    outcome: str  # "sent" or "dead_lettered" after the restart


def lambda_target(url: str, moto: Any) -> tuple[dict[str, Any], Callable[[], list[Any]]]:
    function = make_function(url)
    return {"type": "lambda", "function": function}, lambda: event_invocations(moto, function)


def bus_target(url: str, moto: Any) -> tuple[dict[str, Any], Callable[[], list[Any]]]:
    bus, queue_url = make_bus_to_queue(url)
    return {"type": "eventbridge", "event_bus": bus}, received(url, queue_url)


def machine_target(url: str, moto: Any) -> tuple[dict[str, Any], Callable[[], list[Any]]]:
    arn = make_state_machine(url)
    return {"type": "stepfunctions", "state_machine_arn": arn}, lambda: executions(url, arn)


def fifo_target(url: str, moto: Any) -> tuple[dict[str, Any], Callable[[], list[Any]]]:
    queue_url, _ = make_queue(url, fifo=True)
    return {"type": "sqs", "queue_url": queue_url}, lambda: waiting(url, queue_url)


def waiting(url: str, queue_url: str) -> list[Any]:
    """One entry per message on the queue, read without receiving any (a received and deleted
    message would no longer count against a repeat in moto's deduplication)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    found = client(url, "sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)
    return [None] * sum(int(found["Attributes"][name]) for name in names)


def received(url: str, queue_url: str) -> Callable[[], list[Any]]:
    """Every message the queue has received so far (draining it as it goes)."""
    seen: list[Any] = []

    def count() -> list[Any]:
        seen.extend(drain(url, queue_url))
        return list(seen)

    return count


CASES = {
    "lambda": Case(lambda_target, None, 1, "dead_lettered"),
    "lambda-resend": Case(lambda_target, "resend", 2, "sent"),
    "eventbridge": Case(bus_target, None, 1, "dead_lettered"),
    "stepfunctions": Case(machine_target, None, 1, "sent"),
    "sqs-fifo": Case(fifo_target, None, 1, "sent"),
}


def config_for(entry: dict[str, Any], endpoint: str) -> NotifiersConfig:
    responder = {"name": "act", "endpoint_url": endpoint, **entry}
    parsed = NotifiersConfig.model_validate({"responders": [responder]}).responders
    return responders_config(parsed, max_attempts=3)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_kill_between_sending_and_recording_neither_loses_nor_repeats(
    moto_process, aws_env, tmp_path, name
) -> None:
    case = CASES[name]
    entry, runs = case.target(moto_process.url, moto_process)
    if case.in_doubt:
        entry["in_doubt"] = case.in_doubt
    proxy = HoldingProxy(moto_process.url, lambda headers, path: is_action_call(headers, path))
    engine = subprocess.Popen(
        [
            sys.executable,
            "-c",
            ENGINE,
            str(REPO),
            str(tmp_path),
            config_for(entry, proxy.url).model_dump_json(),
        ]
    )
    try:
        assert proxy.held.wait(PATIENCE), "the action never reached AWS"
    finally:
        os.kill(engine.pid, signal.SIGKILL)
        engine.wait()
        proxy.stop()
    assert len(runs()) == 1  # it ran, and nothing was recorded

    restarted = deliver_all(
        config_for(entry, moto_process.url),
        tmp_path,
        [make_notification(key="crash-1", receiver="act")],
    )
    ran = runs()
    assert len(ran) == case.runs
    assert restarted["in_doubt"] == 1 and restarted["deduplicated"] == 1
    assert restarted.get(case.outcome) == 1
    if case.outcome == "dead_lettered":
        letter = json.loads((tmp_path / "dead-letters.jsonl").read_text())
        assert letter["reason"].startswith("in doubt: ")
        assert letter["notification"]["key"] == "opened:inc-1"
    if name == "lambda-resend":
        assert ran[0]["idempotency_key"] == ran[1]["idempotency_key"] == "act/opened:inc-1"

    again = deliver_all(
        config_for(entry, moto_process.url),
        tmp_path,
        [make_notification(key="crash-1", receiver="act")],
    )
    assert again["deduplicated"] == 1 and len(runs()) == case.runs
