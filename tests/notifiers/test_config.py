"""The notifiers configuration: embedded defaults, secret references, clear refusals."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from notifiers.config import (
    ConsoleReceiverConfig,
    FileReceiverConfig,
    NotifiersConfig,
    SlackReceiverConfig,
    SnsReceiverConfig,
    TeamsReceiverConfig,
)


def test_default_config_sends_to_console_and_incident_log() -> None:
    config = NotifiersConfig()
    assert [type(r) for r in config.receivers] == [ConsoleReceiverConfig, FileReceiverConfig]
    assert [r.name for r in config.receivers] == ["console", "incident-log"]
    assert config.receiver("incident-log").path == "incidents.jsonl"
    assert config.delivery.dead_letter_file == "dead-letters.jsonl"
    assert config.redaction.enabled


def test_receivers_are_parsed_by_type_from_plain_data() -> None:
    config = NotifiersConfig.model_validate(
        {
            "receivers": [
                {"name": "oncall", "type": "slack", "webhook_url": {"env": "SLACK_URL"}},
                {"name": "sec", "type": "teams", "webhook_url": {"aws_secret": "teams/url"}},
                {
                    "name": "bus",
                    "type": "sns",
                    "topic_arn": "arn:aws:sns:eu-west-1:123456789012:alerts.fifo",
                },
            ],
            "delivery": {"max_attempts": 3},
        }
    )
    slack, teams, sns = config.receivers
    assert isinstance(slack, SlackReceiverConfig) and slack.webhook_url.env == "SLACK_URL"
    assert isinstance(teams, TeamsReceiverConfig) and teams.format == "adaptive_card"
    assert isinstance(sns, SnsReceiverConfig) and sns.is_fifo
    assert slack.min_interval_seconds == 1.0  # Slack's one message per second per channel


def test_a_literal_secret_is_refused_with_what_to_write_instead() -> None:
    with pytest.raises(ValidationError) as error:
        NotifiersConfig.model_validate(
            {
                "receivers": [
                    {
                        "name": "oncall",
                        "type": "slack",
                        "webhook_url": "https://hooks.slack.com/services/T0/B0/abcdef",
                    }
                ]
            }
        )
    text = str(error.value)
    assert "never written literally" in text and "{env: VARIABLE_NAME}" in text


def test_slack_needs_exactly_one_transport_and_a_channel_for_bots() -> None:
    with pytest.raises(ValidationError, match="exactly one of webhook_url or bot_token"):
        SlackReceiverConfig(name="s")
    with pytest.raises(ValidationError, match="needs a channel"):
        SlackReceiverConfig(name="s", bot_token={"env": "TOKEN"})


def test_receiver_names_are_unique() -> None:
    with pytest.raises(ValidationError, match="used twice"):
        NotifiersConfig(
            receivers=[ConsoleReceiverConfig(name="a"), ConsoleReceiverConfig(name="a")]
        )


def test_redaction_patterns_must_be_valid_re2() -> None:
    with pytest.raises(ValidationError, match="not a valid RE2 pattern"):
        NotifiersConfig.model_validate(
            {"redaction": {"extra_patterns": [{"name": "x", "regex": "(unclosed"}]}}
        )
    with pytest.raises(ValidationError, match="not a valid RE2 pattern"):
        # backreferences would need backtracking: RE2 refuses them
        NotifiersConfig.model_validate(
            {"redaction": {"extra_patterns": [{"name": "x", "regex": r"(a)\1"}]}}
        )


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        NotifiersConfig.model_validate({"delivery": {"retries": 3}})
