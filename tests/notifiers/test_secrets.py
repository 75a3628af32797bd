"""Secret references: from the environment or AWS Secrets Manager, never shown."""

from __future__ import annotations

import json

import boto3
import pytest

from notifiers.config import AwsSecretRef, EnvSecretRef
from notifiers.secret_refs import Secret, SecretError, SecretResolver, scrub


def test_env_reference_resolves_and_the_value_is_masked_in_repr_and_str() -> None:
    resolver = SecretResolver({"SLACK_TOKEN": "xoxb-very-secret-value"})
    secret = resolver.resolve(EnvSecretRef(env="SLACK_TOKEN"))
    assert secret.reveal() == "xoxb-very-secret-value"
    assert "very-secret" not in repr(secret) and "very-secret" not in str(secret)
    assert "SLACK_TOKEN" in repr(secret)
    assert f"{secret}" == str(secret)


def test_missing_env_variable_names_the_variable() -> None:
    with pytest.raises(SecretError, match="environment variable HOOK is not set"):
        SecretResolver({}).resolve(EnvSecretRef(env="HOOK"))


def test_secrets_refuse_to_be_pickled() -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Secret("value", "test"))


def test_scrub_removes_values_and_url_paths() -> None:
    secret = Secret("https://hooks.example.com/services/T01/B02/XYZsecret", "env")
    text = "POST failed: url=https://hooks.example.com/services/T01/B02/XYZsecret path=/services/T01/B02/XYZsecret"
    cleaned = scrub(text, [secret])
    assert "XYZsecret" not in cleaned
    assert cleaned.count("***") == 2


def test_aws_secret_reference_reads_secrets_manager(moto_url: str) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_url)
    client.create_secret(Name="spanwatch/teams-plain", SecretString="https://teams.example/wh/1")
    client.create_secret(
        Name="spanwatch/slack-json",
        SecretString=json.dumps({"signing_secret": "abc123signing", "other": "x"}),
    )
    resolver = SecretResolver()
    plain = resolver.resolve(
        AwsSecretRef(aws_secret="spanwatch/teams-plain", region="us-east-1", endpoint_url=moto_url)
    )
    keyed = resolver.resolve(
        AwsSecretRef(
            aws_secret="spanwatch/slack-json",
            key="signing_secret",
            region="us-east-1",
            endpoint_url=moto_url,
        )
    )
    assert plain.reveal() == "https://teams.example/wh/1"
    assert keyed.reveal() == "abc123signing"
    assert len(resolver.resolved) == 2


def test_missing_aws_secret_is_a_clear_error(moto_url: str) -> None:
    ref = AwsSecretRef(aws_secret="spanwatch/nope", region="us-east-1", endpoint_url=moto_url)
    with pytest.raises(
        SecretError, match="cannot read AWS secret spanwatch/nope: ResourceNotFound"
    ):
        SecretResolver().resolve(ref)
