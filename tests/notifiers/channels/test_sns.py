"""SNS against moto's server on loopback, read back through a subscribed SQS queue."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from notifiers.channels.sns import MAX_MESSAGE_BYTES, build_publish, fifo_id, subject
from notifiers.config import SnsReceiverConfig
from tests.notifiers.conftest import deliver_all, fast_config, make_incident, make_notification


@pytest.fixture
def clients(moto_url: str):
    sns = boto3.client("sns", region_name="us-east-1", endpoint_url=moto_url)
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=moto_url)
    return sns, sqs


def topic_with_queue(sns, sqs, fifo: bool = False) -> tuple[str, str]:
    name = f"spanwatch-{uuid.uuid4().hex[:8]}"
    suffix = ".fifo" if fifo else ""
    topic_attrs = {"FifoTopic": "true"} if fifo else {}
    queue_attrs = {"FifoQueue": "true"} if fifo else {}
    topic_arn = sns.create_topic(Name=name + suffix, Attributes=topic_attrs)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name + "-q" + suffix, Attributes=queue_attrs)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, queue_url


def received(sqs, queue_url: str, expected: int) -> list[dict]:
    messages: list[dict] = []
    for _ in range(5):
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        messages += batch
        if len(messages) >= expected:
            break
    return messages


def sns_config(topic_arn: str, moto_url: str):
    return fast_config([SnsReceiverConfig(name="sns", topic_arn=topic_arn, endpoint_url=moto_url)])


def test_standard_topic_delivers_full_json_subject_and_attributes_to_sqs(
    clients, moto_url, tmp_path
) -> None:
    sns, sqs = clients
    topic_arn, queue_url = topic_with_queue(sns, sqs)
    stats = deliver_all(
        sns_config(topic_arn, moto_url), tmp_path, [make_notification(receiver="sns")]
    )
    assert stats["sent"] == 1
    (message,) = received(sqs, queue_url, 1)
    envelope = json.loads(message["Body"])
    assert envelope["Subject"].startswith("[spanwatch] [CRITICAL] Shell command pipes")
    assert len(envelope["Subject"]) <= 100
    full = json.loads(envelope["Message"])  # the sqs form, not the short default
    assert full["key"] == "grp-1:incident.opened:0"
    assert full["incidents"][0]["evidence"]["repo"] == "payments-api"
    assert full["truncated"] is False
    attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
    assert attributes == {
        "severity": "critical",
        "rule": "shell-pipe-to-shell",
        "team": "payments",
        "status": "firing",
        "transition": "incident.opened",
    }


def test_fifo_topic_gets_group_from_fingerprint_and_dedup_from_incident_and_transition(
    clients, moto_url, tmp_path
) -> None:
    sns, sqs = clients
    topic_arn, queue_url = topic_with_queue(sns, sqs, fifo=True)
    notifications = [
        make_notification(key="g:opened", receiver="sns"),
        make_notification(
            key="g:escalated", receiver="sns", transition="incident.escalated", escalation_level=1
        ),
    ]
    stats = deliver_all(sns_config(topic_arn, moto_url), tmp_path, notifications)
    assert stats["sent"] == 2
    messages = received(sqs, queue_url, 2)
    assert [m["Attributes"]["MessageGroupId"] for m in messages] == ["fp-1", "fp-1"]
    dedup = [m["Attributes"]["MessageDeduplicationId"] for m in messages]
    assert dedup == [
        "inc-1:incident.opened:2026-11-28T03:04:05Z",
        "inc-1:incident.escalated:2026-11-28T03:04:05Z",
    ]


def test_messages_over_256_kib_are_cut_and_flagged(clients, moto_url, tmp_path) -> None:
    sns, sqs = clients
    topic_arn, queue_url = topic_with_queue(sns, sqs)
    incident = make_incident(evidence={f"f{i}": "z" * 3900 for i in range(40)})
    notification = make_notification(receiver="sns", incidents=[incident])
    config = sns_config(topic_arn, moto_url)
    kwargs = build_publish(notification, config.receivers[0])
    assert len(kwargs["Message"].encode()) <= MAX_MESSAGE_BYTES
    stats = deliver_all(config, tmp_path, [notification])
    assert stats["sent"] == 1
    (message,) = received(sqs, queue_url, 1)
    envelope = json.loads(message["Body"])
    assert envelope["MessageAttributes"]["truncated"]["Value"] == "true"
    full = json.loads(envelope["Message"])
    assert full["truncated"] is True and full["incidents"][0]["evidence"] == {}


def test_unknown_topic_is_not_retried(moto_url, tmp_path) -> None:
    arn = "arn:aws:sns:us-east-1:123456789012:does-not-exist"
    stats = deliver_all(sns_config(arn, moto_url), tmp_path, [make_notification(receiver="sns")])
    assert stats["dead_lettered"] == 1 and stats["failed_attempts"] == 1
    reason = json.loads((tmp_path / "dead-letters.jsonl").read_text())["reason"]
    assert reason.startswith("SNS NotFound")


def test_unreachable_endpoint_is_retried_then_dead_lettered(aws_env, tmp_path) -> None:
    from tests.notifiers.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}"
    arn = "arn:aws:sns:us-east-1:123456789012:alerts"
    stats = deliver_all(sns_config(arn, url), tmp_path, [make_notification(receiver="sns")])
    assert stats["failed_attempts"] == 4 and stats["dead_lettered"] == 1
    assert "connection error" in (tmp_path / "dead-letters.jsonl").read_text()


def test_subject_is_printable_ascii_within_100_characters() -> None:
    incident = make_incident(title="Ünïcödé\nnew line " + "x" * 300)
    text = subject(make_notification(incidents=[incident]), "[spanwatch]")
    assert len(text) <= 100 and text.endswith("...")
    assert all(" " <= c <= "~" for c in text)


def test_fifo_ids_that_sns_would_refuse_are_hashed() -> None:
    assert fifo_id("fp-1:abc") == "fp-1:abc"
    hashed = fifo_id("é" * 10)
    assert len(hashed) == 64 and hashed.isalnum()
    assert len(fifo_id("a" * 500)) == 64
