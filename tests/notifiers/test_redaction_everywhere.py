"""Redaction on the wire: every receiver's real payload, captured where it lands, is clean.

Also: secrets from the configuration (webhook URLs, tokens) never reach logs or dead letters.
"""

from __future__ import annotations

import json
import logging
import uuid

import boto3
import pytest

from notifiers.config import (
    ConsoleReceiverConfig,
    FileReceiverConfig,
    SlackReceiverConfig,
    SnsReceiverConfig,
    TeamsReceiverConfig,
    WebhookReceiverConfig,
)
from notifiers.secret_refs import SecretResolver
from tests.notifiers.conftest import (
    deliver_all,
    fast_config,
    free_port,
    make_incident,
    make_notification,
)
from tests.notifiers.fakes import Reply, slack_webhook_responder, teams_workflow_responder

LEAKS = [
    "AKIAIOSFODNN7EXAMPLE",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp",
    "ghp_" + "Z9y8" * 9,
    "MIIEowIBAAKCAQEAsecretkeymaterial",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpM",
]


def leaky_notification(receiver: str):
    evidence = {
        "command": f"export AWS_ACCESS_KEY_ID={LEAKS[0]} && curl -H 'Authorization: Bearer {LEAKS[4]}'",
        "output": f"token={LEAKS[1]} gh={LEAKS[2]}",
        "key": f"-----BEGIN RSA PRIVATE KEY-----\n{LEAKS[3]}\n-----END RSA PRIVATE KEY-----",
        "prompt": "please " * 200,
    }
    incident = make_incident(evidence=evidence, title=f"leak {LEAKS[0]}")
    return make_notification(receiver=receiver, incidents=[incident])


def assert_clean(raw: str) -> None:
    for secret in LEAKS:
        assert secret not in raw
    assert "[REDACTED:" in raw


@pytest.mark.parametrize("kind", ["slack", "teams", "webhook"])
def test_http_receivers_send_redacted_payloads(kind, service, tmp_path) -> None:
    responders = {
        "slack": slack_webhook_responder,
        "teams": teams_workflow_responder,
    }
    fake = service(responders.get(kind, lambda _r: Reply(200)))
    env = {"URL": fake.url + "/hook/secretpath"}
    receiver = {
        "slack": SlackReceiverConfig(name="r", webhook_url={"env": "URL"}, min_interval_seconds=0),
        "teams": TeamsReceiverConfig(name="r", webhook_url={"env": "URL"}),
        "webhook": WebhookReceiverConfig(name="r", url={"env": "URL"}),
    }[kind]
    stats = deliver_all(
        fast_config([receiver]), tmp_path, [leaky_notification("r")], secrets=SecretResolver(env)
    )
    assert stats["sent"] == 1
    assert_clean(fake.requests[0].body.decode())


def test_sns_payload_is_redacted(moto_url, tmp_path) -> None:
    sns = boto3.client("sns", region_name="us-east-1", endpoint_url=moto_url)
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=moto_url)
    name = f"redact-{uuid.uuid4().hex[:8]}"
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    config = fast_config([SnsReceiverConfig(name="r", topic_arn=topic, endpoint_url=moto_url)])
    deliver_all(config, tmp_path, [leaky_notification("r")])
    # At least once: a publish retried after a slow answer may arrive twice; every copy is clean.
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert messages
    for message in messages:
        assert_clean(message["Body"])


def test_console_and_file_payloads_are_redacted(tmp_path, capsys) -> None:
    config = fast_config(
        [ConsoleReceiverConfig(name="c", format="json"), FileReceiverConfig(name="f")]
    )
    deliver_all(config, tmp_path, [leaky_notification("c"), leaky_notification("f")])
    assert_clean(capsys.readouterr().out)
    written = (tmp_path / "incidents.jsonl").read_text()
    assert_clean(written)
    prompt = json.loads(written)["incident"]["evidence"]["prompt"]
    assert len(prompt) <= 200 and "chars]" in prompt


def test_dead_letters_are_redacted_too(tmp_path) -> None:
    config = fast_config([FileReceiverConfig(name="f")])
    deliver_all(config, tmp_path, [leaky_notification("nobody")])
    assert_clean((tmp_path / "dead-letters.jsonl").read_text())


def test_webhook_secrets_never_reach_logs_or_dead_letters(tmp_path, caplog) -> None:
    secret_url = f"http://127.0.0.1:{free_port()}/services/T0/B0/S3cr3tT0k3nPath"
    config = fast_config(
        [SlackReceiverConfig(name="s", webhook_url={"env": "URL"}, min_interval_seconds=0)]
    )
    with caplog.at_level(logging.DEBUG):
        stats = deliver_all(
            config,
            tmp_path,
            [make_notification(receiver="s")],
            secrets=SecretResolver({"URL": secret_url}),
        )
    assert stats["dead_lettered"] == 1
    letters = (tmp_path / "dead-letters.jsonl").read_text()
    assert "connection error" in letters
    assert "S3cr3tT0k3nPath" not in letters and "S3cr3tT0k3nPath" not in caplog.text
    assert "dead-lettered" in caplog.text
