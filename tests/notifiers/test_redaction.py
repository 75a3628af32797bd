"""Redaction: credentials never leave, long prompts and commands are cut visibly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from notifiers.config import RedactionConfig, RedactionPattern
from notifiers.redaction import Redactor, cut
from tests.notifiers.conftest import make_incident, make_notification

SECRETS = {
    "aws-access-key": "AKIAIOSFODNN7EXAMPLE",
    "slack-token": "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOp",
    "github-token": "ghp_" + "a1B2" * 9,
    "bearer": "Bearer eyJhbGciOiJIUzI1NiJ9token.part",
    "private-key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    "anthropic-key": "sk-ant-api03-" + "x" * 30,
}


def test_default_patterns_redact_every_kind_of_credential() -> None:
    redactor = Redactor()
    for name, secret in SECRETS.items():
        out = redactor.text(f"before {secret} after")
        assert secret not in out, name
        assert out.startswith("before ") and out.endswith(" after")
        assert f"[REDACTED:{name}]" in out or "[REDACTED:" in out


def test_private_key_cut_before_its_end_marker_is_still_redacted() -> None:
    out = Redactor().text("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA")
    assert "b3BlbnNzaC1rZXktdjEAAAA" not in out


def test_emails_are_kept_unless_asked_for() -> None:
    text = "owner alice@example.com"
    assert Redactor().text(text) == text
    assert Redactor(RedactionConfig(redact_emails=True)).text(text) == "owner [REDACTED:email]"


def test_extra_patterns_add_to_the_defaults() -> None:
    config = RedactionConfig(extra_patterns=[RedactionPattern(name="ticket", regex=r"SEC-\d+")])
    out = Redactor(config).text("SEC-1234 AKIAIOSFODNN7EXAMPLE")
    assert out == "[REDACTED:ticket] [REDACTED:aws-access-key]"


def test_prompt_and_command_fields_are_cut_to_their_caps_with_a_mark() -> None:
    config = RedactionConfig(field_caps={"prompt": 40, "command": 60})
    incident = make_incident(evidence={"user_prompt": "p" * 500, "command": "c" * 500, "x": "y"})
    incident["evidence"]["claude_code.prompt"] = "q" * 500
    redacted = Redactor(config).notification(make_notification(incidents=[incident]))
    evidence = redacted.incidents[0]["evidence"]
    assert len(evidence["command"]) <= 60 and evidence["command"].endswith("chars]")
    assert len(evidence["claude_code.prompt"]) <= 40  # dotted names use their last part
    assert evidence["x"] == "y"


def test_routing_fields_are_never_altered() -> None:
    notification = make_notification(key="AKIAIOSFODNN7EXAMPLE-key")
    redacted = Redactor().notification(notification)
    assert redacted.key == notification.key and redacted.receiver == notification.receiver


def test_disabled_redaction_passes_everything_through() -> None:
    text = "AKIAIOSFODNN7EXAMPLE"
    assert Redactor(RedactionConfig(enabled=False)).text(text) == text


@settings(max_examples=60, deadline=None)
@given(
    before=st.text(max_size=80),
    after=st.text(max_size=80),
    name=st.sampled_from(sorted(SECRETS)),
)
def test_a_secret_anywhere_in_text_never_survives(before: str, after: str, name: str) -> None:
    secret = SECRETS[name]
    out = Redactor().text(f"{before} {secret} {after}")
    assert secret not in out


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=300), limit=st.integers(min_value=30, max_value=200))
def test_cut_respects_the_limit_and_marks_what_it_cut(text: str, limit: int) -> None:
    out = cut(text, limit)
    assert len(out) <= limit
    if len(text) <= limit:
        assert out == text
    else:
        assert "…[cut" in out and text.startswith(out.split("…[cut")[0])
