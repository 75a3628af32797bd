"""Responders against moto's server: each action reaches its target, once per incident and
transition; dry runs call nothing; missing targets and permissions are named at start-up, and
failures that cannot be foreseen are counted and dead-lettered."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from notifiers.cli import retry_dead_letters
from notifiers.config import NotifiersConfig
from notifiers.dispatcher import Dispatcher
from notifiers.registry import ReceiverSetupError
from notifiers.responders.config import (
    EventBridgeResponderConfig,
    LambdaResponderConfig,
    SqsResponderConfig,
    StepFunctionsResponderConfig,
)
from tests.notifiers.aws_targets import (
    client,
    drain,
    event_invocations,
    executions,
    make_bus_to_queue,
    make_function,
    make_queue,
    make_state_machine,
    unique,
)
from tests.notifiers.conftest import (
    deliver_all,
    make_incident,
    make_notification,
    responders_config,
)
from tests.notifiers.fakes import Recorded, Reply

pytestmark = pytest.mark.usefixtures("aws_env")


def lambda_responder(moto, function: str, **options: Any) -> LambdaResponderConfig:
    return LambdaResponderConfig(
        name="respond", type="lambda", function=function, endpoint_url=moto.url, **options
    )


def test_event_reaches_the_bus_and_its_rule_delivers_it_to_a_queue(moto_process, tmp_path):
    bus, queue_url = make_bus_to_queue(moto_process.url)
    config = responders_config(
        [
            EventBridgeResponderConfig(
                name="bus", type="eventbridge", event_bus=bus, endpoint_url=moto_process.url
            )
        ]
    )
    stats = deliver_all(config, tmp_path, [make_notification(receiver="bus")])
    assert stats["sent"] == 1
    [message] = drain(moto_process.url, queue_url)
    event = json.loads(message["Body"])
    assert event["source"] == "spanwatch" and event["detail-type"] == "spanwatch incident"
    assert event["time"] == "2026-11-28T03:04:05Z"
    detail = event["detail"]
    assert detail["type"] == "incident.opened"
    assert detail["idempotency_key"] == "bus/opened:inc-1"
    assert detail["incident"]["rule_id"] == "shell-pipe-to-shell"
    assert detail["incident"]["evidence"]["command"] == "curl -s https://get.example.com | sh"


def test_lambda_is_invoked_asynchronously_with_the_incident(moto_process, tmp_path):
    function = make_function(moto_process.url)
    config = responders_config([lambda_responder(moto_process, function)])
    incident = make_incident(7, severity="high", group={"user": "bob", "team": "infra"})
    stats = deliver_all(
        config, tmp_path, [make_notification(receiver="respond", incidents=[incident])]
    )
    assert stats["sent"] == 1
    [payload] = event_invocations(moto_process, function)
    assert payload["incident"]["id"] == "inc-7"
    assert payload["incident"]["group"] == {"user": "bob", "team": "infra"}
    assert payload["idempotency_key"] == "respond/opened:inc-7"
    assert payload["responder"] == "respond" and payload["type"] == "incident.opened"


def test_a_state_machine_execution_starts_with_the_incident_as_input(moto_process, tmp_path):
    arn = make_state_machine(moto_process.url)
    config = responders_config(
        [
            StepFunctionsResponderConfig(
                name="runbook",
                type="stepfunctions",
                state_machine_arn=arn,
                endpoint_url=moto_process.url,
            )
        ]
    )
    stats = deliver_all(config, tmp_path, [make_notification(receiver="runbook")])
    assert stats["sent"] == 1
    [execution] = executions(moto_process.url, arn)
    assert execution["name"].startswith("spanwatch-") and len(execution["name"]) <= 80
    assert json.loads(execution["input"])["incident"]["id"] == "inc-1"


@pytest.mark.parametrize("fifo", [False, True])
def test_an_sqs_queue_receives_the_incident_with_filterable_attributes(
    moto_process, tmp_path, fifo
):
    queue_url, _ = make_queue(moto_process.url, fifo=fifo)
    config = responders_config(
        [
            SqsResponderConfig(
                name="tickets", type="sqs", queue_url=queue_url, endpoint_url=moto_process.url
            )
        ]
    )
    stats = deliver_all(config, tmp_path, [make_notification(receiver="tickets")])
    assert stats["sent"] == 1
    [message] = drain(moto_process.url, queue_url)
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes == {
        "idempotency_key": "tickets/opened:inc-1",
        "transition": "incident.opened",
        "severity": "critical",
        "rule": "shell-pipe-to-shell",
    }
    assert json.loads(message["Body"])["incident"]["fingerprint"] == "fp-1"


def test_one_action_per_incident_and_transition_however_often_the_group_is_notified(
    moto_process, tmp_path
):
    queue_url, _ = make_queue(moto_process.url)
    config = responders_config(
        [
            SqsResponderConfig(
                name="tickets",
                type="sqs",
                queue_url=queue_url,
                endpoint_url=moto_process.url,
                transitions=["incident.opened", "incident.resolved"],
            )
        ]
    )
    a, b = make_incident(1), make_incident(2)
    notifications = [
        make_notification("g:opened:1", "tickets", incidents=[a]),
        # B joins the group: the group is notified again with both incidents
        make_notification("g:opened:2", "tickets", incidents=[a, b]),
        # a reminder and a severity change run nothing
        make_notification("g:updated:3", "tickets", "incident.updated", [a, b], repeat=True),
        # A resolves while B still fires
        make_notification(
            "g:resolved:4",
            "tickets",
            "incident.resolved",
            [{**a, "status": "resolved"}, b],
        ),
    ]
    first = deliver_all(config, tmp_path, notifications)
    again = deliver_all(config, tmp_path, notifications)  # a restart that re-emits them all
    keys = sorted(
        m["MessageAttributes"]["idempotency_key"]["StringValue"]
        for m in drain(moto_process.url, queue_url)
    )
    assert keys == ["tickets/opened:inc-1", "tickets/opened:inc-2", "tickets/resolved:inc-1"]
    assert first["sent"] == 3 and first["deduplicated"] == 1 and first["not_triggered"] == 1
    assert again.get("sent", 0) == 0 and again["deduplicated"] == 4


def test_escalation_runs_once_per_level(moto_process, tmp_path):
    function = make_function(moto_process.url)
    config = responders_config(
        [lambda_responder(moto_process, function, transitions=["incident.escalated"])]
    )
    notifications = [
        make_notification(f"e:{level}:{n}", "respond", "incident.escalated", [incident])
        for n, (level, incident) in enumerate(
            [
                (1, make_incident(escalation_level=1)),
                (1, make_incident(escalation_level=1)),
                (2, make_incident(escalation_level=2)),
            ]
        )
    ]
    deliver_all(config, tmp_path, [make_notification(receiver="respond"), *notifications])
    keys = [p["idempotency_key"] for p in event_invocations(moto_process, function)]
    assert keys == ["respond/escalated:inc-1:1", "respond/escalated:inc-1:2"]


def test_dry_run_records_the_call_it_would_make_and_calls_nothing(moto_process, tmp_path):
    function = unique("never-created")  # a dry run needs no target, no check, no credentials
    config = responders_config([lambda_responder(moto_process, function, dry_run=True)])
    stats = deliver_all(config, tmp_path, [make_notification(receiver="respond")])
    assert stats["sent"] == 1
    [record] = [json.loads(line) for line in (tmp_path / "dry-run.jsonl").read_text().splitlines()]
    assert record["would_call"] == "lambda:InvokeFunction"
    assert record["idempotency_key"] == "respond/dry-run:opened:inc-1"
    assert record["request"]["FunctionName"] == function
    assert record["request"]["InvocationType"] == "Event"
    assert record["request"]["Payload"]["incident"]["id"] == "inc-1"
    assert not any(function in entry["url"] for entry in moto_process.recording())


def test_what_leaves_is_redacted(moto_process, tmp_path):
    function = make_function(moto_process.url)
    config = responders_config([lambda_responder(moto_process, function)])
    leaked = make_incident(evidence={"command": "export GITHUB_TOKEN=ghp_" + "a" * 36})
    deliver_all(config, tmp_path, [make_notification(receiver="respond", incidents=[leaked])])
    [payload] = event_invocations(moto_process, function)
    assert payload["incident"]["evidence"]["command"] == (
        "export GITHUB_TOKEN=[REDACTED:github-token]"
    )


MISSING = {
    "eventbridge": lambda url: {"type": "eventbridge", "event_bus": unique("no-bus")},
    "lambda": lambda url: {"type": "lambda", "function": unique("no-function")},
    "stepfunctions": lambda url: {
        "type": "stepfunctions",
        "state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:" + unique("none"),
    },
    "sqs": lambda url: {"type": "sqs", "queue_url": f"{url}/123456789012/{unique('none')}"},
}
NOT_FOUND = {
    "eventbridge": "ResourceNotFoundException",
    "lambda": "ResourceNotFoundException",
    "stepfunctions": "StateMachineDoesNotExist",
    "sqs": "NonExistentQueue",
}


def missing_target(kind: str, url: str, **options: Any) -> NotifiersConfig:
    entry = {"name": "act", "endpoint_url": url, **MISSING[kind](url), **options}
    return responders_config(NotifiersConfig.model_validate({"responders": [entry]}).responders)


@pytest.mark.parametrize("kind", sorted(MISSING))
def test_a_missing_target_stops_the_start_with_one_line(moto_process, tmp_path, kind):
    dispatcher = Dispatcher(missing_target(kind, moto_process.url), tmp_path)
    with pytest.raises(ReceiverSetupError) as raised:
        dispatcher.start()
    message = str(raised.value)
    assert message.startswith("responder 'act': ") and "\n" not in message
    assert NOT_FOUND[kind] in message
    dispatcher.close()


# moto's Lambda without Docker accepts an invocation of any function name; the Lambda case is
# below, against an endpoint that answers as Lambda does.
@pytest.mark.parametrize("kind", sorted(set(MISSING) - {"lambda"}))
def test_a_target_that_cannot_be_checked_fails_counted_and_dead_lettered(
    moto_process, tmp_path, kind
):
    config = missing_target(kind, moto_process.url, check=False)
    stats = deliver_all(config, tmp_path, [make_notification(receiver="act")])
    assert stats["dead_lettered"] == 1 and stats.get("sent", 0) == 0
    assert stats["failed_attempts"] == 1  # not retried: a missing target stays missing
    [letter] = [
        json.loads(line) for line in (tmp_path / "dead-letters.jsonl").read_text().splitlines()
    ]
    assert letter["receiver"] == "act" and NOT_FOUND[kind] in letter["reason"]
    assert letter["notification"]["key"] == "opened:inc-1"


SEND_ONLY = {
    "eventbridge": ("events:PutEvents", "events:DescribeEventBus"),
    "stepfunctions": ("states:StartExecution", "states:DescribeStateMachine"),
    "sqs": ("sqs:SendMessage", "sqs:GetQueueAttributes"),
}


@pytest.fixture
def send_only_user(moto_process, monkeypatch) -> Any:
    """Sets the environment to the keys of a user allowed to send but not to look anything up,
    with moto enforcing IAM policies while the test runs."""
    iam = client(moto_process.url, "iam")
    user = unique("sender")
    iam.create_user(UserName=user)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": [a for a, _ in SEND_ONLY.values()], "Resource": "*"}
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="send", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    moto_process.set_auth(0)
    try:
        yield
    finally:
        moto_process.set_auth(float("inf"))


def existing_target(kind: str, url: str) -> dict[str, Any]:
    if kind == "eventbridge":
        return {"type": kind, "event_bus": make_bus_to_queue(url)[0]}
    if kind == "stepfunctions":
        return {"type": kind, "state_machine_arn": make_state_machine(url)}
    return {"type": kind, "queue_url": make_queue(url)[0]}


@pytest.mark.parametrize("kind", sorted(SEND_ONLY))
def test_missing_permissions_stop_the_start_and_say_which(moto_process, tmp_path, kind, request):
    target = existing_target(kind, moto_process.url)
    request.getfixturevalue("send_only_user")
    entry = {"name": "act", "endpoint_url": moto_process.url, **target}
    config = responders_config(NotifiersConfig.model_validate({"responders": [entry]}).responders)
    with pytest.raises(ReceiverSetupError) as raised:
        Dispatcher(config, tmp_path).start()
    message = str(raised.value)
    assert "\n" not in message and "AccessDenied" in message
    assert SEND_ONLY[kind][1] in message and "check: false" in message


def lambda_not_found(_request: Recorded) -> Reply:
    """Lambda's answer to an invocation of a function that does not exist."""
    body = {
        "Type": "User",
        "Message": "Function not found: arn:aws:lambda:us-east-1:123456789012:function:gone",
    }
    headers = {"x-amzn-ErrorType": "ResourceNotFoundException", "Content-Type": "application/json"}
    return Reply(404, json.dumps(body), headers)


def test_a_lambda_function_gone_after_start_fails_counted_and_dead_lettered(service, tmp_path):
    lambda_api = service(lambda_not_found)
    config = responders_config(
        [
            LambdaResponderConfig(
                name="act", type="lambda", function="gone", endpoint_url=lambda_api.url, check=False
            )
        ]
    )
    stats = deliver_all(config, tmp_path, [make_notification(receiver="act")])
    assert stats["dead_lettered"] == 1 and len(lambda_api.requests) == 1
    assert lambda_api.requests[0].headers["X-Amz-Invocation-Type"] == "Event"
    [letter] = [
        json.loads(line) for line in (tmp_path / "dead-letters.jsonl").read_text().splitlines()
    ]
    assert letter["reason"].startswith("lambda ResourceNotFoundException: Function not found")


def accepted(_request: Recorded) -> Reply:
    return Reply(202, "", {"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("in_doubt", "requests", "outcome"), [(None, 1, "dead_lettered"), ("resend", 2, "sent")]
)
def test_a_timeout_after_sending_is_in_doubt(service, tmp_path, in_doubt, requests, outcome):
    """Lambda got the invocation but its answer came too late: it may have run."""
    lambda_api = service(accepted)
    lambda_api.script(Reply(202, "", {"Content-Type": "application/json"}, held=True))
    options = {"in_doubt": in_doubt} if in_doubt else {}
    config = responders_config(
        [
            LambdaResponderConfig(
                name="act",
                type="lambda",
                function="slow",
                endpoint_url=lambda_api.url,
                check=False,
                timeout_seconds=2.0,  # the held reply misses it, a prompt one does not
                **options,
            )
        ]
    )
    stats = deliver_all(config, tmp_path, [make_notification(receiver="act")])
    assert stats[outcome] == 1
    assert len(lambda_api.wait_for(requests)) == requests
    if outcome == "dead_lettered":
        letter = json.loads((tmp_path / "dead-letters.jsonl").read_text())
        assert letter["reason"].startswith("in doubt: lambda call interrupted after sending")


def test_an_action_left_in_doubt_runs_again_only_when_a_human_resends_it(service, tmp_path):
    lambda_api = service(accepted)
    lambda_api.script(Reply(202, "", {"Content-Type": "application/json"}, held=True))
    config = responders_config(
        [
            LambdaResponderConfig(
                name="act",
                type="lambda",
                function="slow",
                endpoint_url=lambda_api.url,
                check=False,
                timeout_seconds=2.0,  # the held reply misses it, a prompt one does not
            )
        ]
    )
    deliver_all(config, tmp_path, [make_notification(receiver="act")])
    out = io.StringIO()
    assert retry_dead_letters(config, tmp_path, out) == 0
    assert "sent opened:inc-1 to act" in out.getvalue()
    assert [r.json()["idempotency_key"] for r in lambda_api.wait_for(2)] == ["act/opened:inc-1"] * 2
    stats = deliver_all(config, tmp_path, [make_notification(receiver="act")])
    assert stats["deduplicated"] == 1 and len(lambda_api.requests) == 2
