"""Delivery configuration: receivers, reliability knobs and redaction, validated by pydantic.

Every field has a default so that `NotifiersConfig()` is the embedded default: notifications go
to the console and to the incident log under the state directory. Secrets are never literal:
fields that hold one take a reference (`{env: NAME}` or `{aws_secret: ARN-or-name}`) resolved at
start-up by `notifiers.secret_refs`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import re2
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from notifiers.responders.config import ResponderConfig

_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class _NotifiersSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnvSecretRef(_NotifiersSection):
    """A secret read from an environment variable at start-up."""

    env: str = Field(min_length=1, description="the environment variable's name")

    def describe(self) -> str:
        return f"environment variable {self.env}"


class AwsSecretRef(_NotifiersSection):
    """A secret read from AWS Secrets Manager; `key` picks one field of a JSON secret string."""

    aws_secret: str = Field(min_length=1, description="the secret's ARN or name")
    key: str | None = Field(None, description="the field of a JSON secret string to use")
    region: str | None = Field(None, description="the secret's region (default: AWS's chain)")
    endpoint_url: str | None = Field(
        None, description="a Secrets Manager endpoint (VPC endpoint, local stand-in)"
    )

    def describe(self) -> str:
        field = f" (key {self.key})" if self.key else ""
        return f"AWS secret {self.aws_secret}{field}"


def _no_literal_secret(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError(
            "secrets are never written literally in the configuration: "
            "use {env: VARIABLE_NAME} or {aws_secret: ARN-or-name}"
        )
    return value


SecretRef = Annotated[EnvSecretRef | AwsSecretRef, BeforeValidator(_no_literal_secret)]


class _ReceiverBase(_NotifiersSection):
    name: str = Field(pattern=_NAME_PATTERN, description="what routes call it by")
    min_interval_seconds: float = Field(
        default=0.0, ge=0, description="least time between two sends"
    )
    timeout_seconds: float | None = Field(
        default=None, gt=0, description="one send's timeout (default: delivery.timeout_seconds)"
    )


class ConsoleReceiverConfig(_ReceiverBase):
    """One human-readable line (or one JSON line) per notification on stdout/stderr."""

    type: Literal["console"] = Field("console", description="the receiver's kind")
    format: Literal["text", "json"] = Field("text", description="a line of text or of JSON")
    stream: Literal["stdout", "stderr"] = Field("stdout", description="where lines go")


class FileReceiverConfig(_ReceiverBase):
    """Incident-log JSON lines appended to a file (relative paths are under the state dir)."""

    type: Literal["file"] = Field("file", description="the receiver's kind")
    path: str = Field(
        "incidents.jsonl", description="the file appended to (relative: under state_dir)"
    )


class SlackReceiverConfig(_ReceiverBase):
    """Slack through an incoming webhook, or `chat.postMessage` with a bot token and a channel.

    With a bot token, later transitions of an incident update its first message and/or reply in
    its thread (`thread_updates`); an incoming webhook cannot edit, so every transition is a new
    message there. Slack allows about one message per second per channel.
    """

    type: Literal["slack"] = Field("slack", description="the receiver's kind")
    webhook_url: SecretRef | None = Field(
        None, description="an incoming webhook's URL (or give bot_token)"
    )
    bot_token: SecretRef | None = Field(
        None, description="a bot token for chat.postMessage (needs channel)"
    )
    channel: str | None = Field(None, description="channel id or name, with bot_token")
    api_base_url: str = Field("https://slack.com/api/", description="Slack's Web API")
    thread_updates: Literal["update", "reply", "update_and_reply"] = Field(
        "update_and_reply",
        description="bot token: later transitions edit the first message, reply in its "
        "thread, or both",
    )
    max_incidents: int = Field(
        default=5, ge=1, le=10, description="incidents shown per message; the rest are counted"
    )
    min_interval_seconds: float = Field(
        default=1.0, ge=0, description="least time between two sends (Slack: ~1 per second)"
    )

    @model_validator(mode="after")
    def _one_transport(self) -> SlackReceiverConfig:
        if (self.webhook_url is None) == (self.bot_token is None):
            raise ValueError("a slack receiver needs exactly one of webhook_url or bot_token")
        if self.bot_token is not None and not self.channel:
            raise ValueError("a slack receiver with bot_token needs a channel")
        return self


class TeamsReceiverConfig(_ReceiverBase):
    """Microsoft Teams: Workflows webhook with an Adaptive Card (default) or legacy MessageCard."""

    type: Literal["teams"] = Field("teams", description="the receiver's kind")
    webhook_url: SecretRef = Field(description="the Workflows (or legacy connector) webhook")
    format: Literal["adaptive_card", "message_card"] = Field(
        "adaptive_card", description="Adaptive Card (Workflows) or legacy MessageCard"
    )
    max_incidents: int = Field(
        default=5, ge=1, le=20, description="incidents shown per message; the rest are counted"
    )


class SnsReceiverConfig(_ReceiverBase):
    """AWS SNS topic; FIFO when the ARN ends in `.fifo` unless `fifo` says otherwise."""

    type: Literal["sns"] = Field("sns", description="the receiver's kind")
    topic_arn: str = Field(
        pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]*:\d{12}:[A-Za-z0-9_.-]+$",
        description="the topic's ARN",
    )
    region: str | None = Field(None, description="default: the region in the ARN")
    endpoint_url: str | None = Field(
        None, description="an SNS endpoint (VPC endpoint, local stand-in)"
    )
    fifo: bool | None = Field(None, description="default: whether the ARN ends in `.fifo`")
    subject_prefix: str = Field("[spanwatch]", description="start of the message subject")

    @property
    def is_fifo(self) -> bool:
        return self.fifo if self.fifo is not None else self.topic_arn.endswith(".fifo")


class WebhookReceiverConfig(_ReceiverBase):
    """Any HTTP endpoint: the notification as JSON, signed with HMAC-SHA256 when a key is set."""

    type: Literal["webhook"] = Field("webhook", description="the receiver's kind")
    url: str | SecretRef = Field(description="http(s) URL, written or as a secret reference")
    hmac_key: SecretRef | None = Field(None, description="signs each body with HMAC-SHA256")
    signature_header: str = Field(
        "X-Spanwatch-Signature", description="the header that carries the signature"
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="more headers sent (no secrets here)"
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.startswith(("http://", "https://")):
            raise ValueError("webhook url must start with http:// or https://")
        return value


ReceiverConfig = Annotated[
    ConsoleReceiverConfig
    | FileReceiverConfig
    | SlackReceiverConfig
    | TeamsReceiverConfig
    | SnsReceiverConfig
    | WebhookReceiverConfig,
    Field(discriminator="type"),
]


class DeliveryConfig(_NotifiersSection):
    """Reliability knobs; relative file paths are under the dispatcher's state directory."""

    # One worker per receiver keeps its notifications in order (a chat thread's first message
    # before its updates); more workers deliver faster but in no guaranteed order.
    workers: int = Field(default=1, ge=1, le=16, description="worker threads per receiver")
    queue_size: int = Field(
        default=10_000, ge=1, description="notifications waiting in memory to be journaled"
    )
    submit_block_seconds: float = Field(
        default=0.05,
        ge=0,
        description="longest wait for room in that queue before a dead letter",
    )
    max_backlog: int = Field(default=100_000, ge=1, description="undelivered per receiver")
    max_attempts: int = Field(
        default=6, ge=1, description="sends of one notification before it is dead-lettered"
    )
    backoff_initial_seconds: float = Field(default=1.0, ge=0, description="first retry's wait")
    backoff_max_seconds: float = Field(default=60.0, ge=0, description="longest retry wait")
    backoff_multiplier: float = Field(default=2.0, ge=1, description="wait growth per retry")
    jitter: float = Field(
        default=0.2, ge=0, le=1, description="share of a wait taken off at random"
    )
    max_retry_after_seconds: float = Field(
        default=300.0, ge=0, description="cap on a receiver's Retry-After"
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="one send's timeout")
    breaker_failure_threshold: int = Field(
        default=5, ge=1, description="failures in a row that open a receiver's circuit breaker"
    )
    breaker_reset_seconds: float = Field(
        default=30.0, ge=0, description="time an open breaker waits before trying again"
    )
    max_pending_age_seconds: float = Field(
        default=3600.0, gt=0, description="a notification older than this is dead-lettered"
    )
    delivery_log_retention_seconds: float = Field(
        default=7 * 86400.0, gt=0, description="how long sent keys are remembered (no resend)"
    )
    dead_letter_file: str = Field(
        "dead-letters.jsonl", description="undeliverable notifications, one JSON line each"
    )
    delivery_log_file: str = Field("delivery.sqlite", description="the outbox and the delivery log")
    dry_run_file: str = Field("dry-run.jsonl", description="what dry-run responders would send")


class RedactionPattern(_NotifiersSection):
    """A named google-re2 pattern; matches are replaced by `[REDACTED:<name>]`."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="shown as `[REDACTED:<name>]`")
    regex: str = Field(min_length=1, description="an RE2 pattern")

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        options = re2.Options()
        options.log_errors = False
        try:
            re2.compile(value, options)
        except re2.error as exc:
            raise ValueError(f"not a valid RE2 pattern: {exc}") from None
        return value


DEFAULT_PATTERNS: tuple[RedactionPattern, ...] = (
    RedactionPattern(
        name="private-key",
        regex=r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----"
        r"|[\s\S]*)",
    ),
    RedactionPattern(name="aws-access-key", regex=r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    RedactionPattern(
        name="aws-secret-key",
        regex=r"(?i)(?:aws_?secret_?access_?key|secret-access-key|secretaccesskey)[\"']?"
        r"(?:\s*[:=]\s*|\s+)[\"']?[A-Za-z0-9/+=]{40}",
    ),
    RedactionPattern(name="slack-token", regex=r"\bxox[abposre]-[A-Za-z0-9-]{10,}"),
    RedactionPattern(
        name="slack-webhook", regex=r"https://hooks\.slack\.com/(?:services|workflows)/[\w/-]+"
    ),
    RedactionPattern(
        name="github-token", regex=r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{22,})"
    ),
    RedactionPattern(name="anthropic-key", regex=r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    RedactionPattern(
        name="platform-token",
        regex=r"\b(?:[sr]k_live_[A-Za-z0-9]{20,}|glpat-[A-Za-z0-9_-]{20,}|AIza[0-9A-Za-z_-]{35}"
        r"|npm_[A-Za-z0-9]{36}|hf_[A-Za-z0-9]{34}|pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"
        r"|dckr_pat_[A-Za-z0-9_-]{27,}|SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"
        r"|ABSK[A-Za-z0-9+/=]{20,})",
    ),
    RedactionPattern(name="bearer", regex=r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{8,}=*"),
    RedactionPattern(
        name="jwt", regex=r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    ),
    RedactionPattern(
        name="password",
        regex=r"(?i)\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token)\b"
        r"[\"']?\s*[:=]\s*[\"']?[^\s\"']{4,}",
    ),
)

EMAIL_PATTERN = RedactionPattern(
    name="email", regex=r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)


class RedactionConfig(_NotifiersSection):
    """What is scrubbed from every payload before it leaves.

    `patterns` replaces the safe defaults (rarely wanted); `extra_patterns` adds to them.
    `field_caps` cuts named fields (by the last part of a dotted key) to a length; every other
    string is cut at `max_string_length`.
    """

    enabled: bool = Field(True, description="false: nothing is scrubbed (not recommended)")
    patterns: list[RedactionPattern] = Field(
        default_factory=lambda: list(DEFAULT_PATTERNS),
        description="replaces the default patterns (rarely wanted)",
    )
    extra_patterns: list[RedactionPattern] = Field(
        default_factory=list, description="patterns added to `patterns`"
    )
    redact_emails: bool = Field(False, description="also scrub email addresses")
    field_caps: dict[str, int] = Field(
        description="field (last part of a dotted key) -> longest length kept",
        default_factory=lambda: {
            "prompt": 200,
            "user_prompt": 200,
            "command": 500,
            "full_command": 500,
            "bash_command": 500,
        },
    )
    max_string_length: int = Field(
        default=4000, ge=16, description="every other string is cut to this length"
    )


def _default_receivers() -> list[Any]:
    return [
        ConsoleReceiverConfig(name="console"),
        FileReceiverConfig(name="incident-log", path="incidents.jsonl"),
    ]


class NotifiersConfig(_NotifiersSection):
    """The whole `notifiers:` section of spanwatch's configuration.

    `responders` (actions on AWS: EventBridge, Lambda, Step Functions, SQS) share the receivers'
    name space: routes and escalation levels name either.
    """

    receivers: list[ReceiverConfig] = Field(
        default_factory=_default_receivers,
        description="where notifications go, by `type`; replaces the defaults",
    )
    responders: list[ResponderConfig] = Field(
        default_factory=list, description="actions on AWS, by `type`"
    )
    delivery: DeliveryConfig = Field(
        default_factory=DeliveryConfig, description="retries, timeouts and delivery files"
    )
    redaction: RedactionConfig = Field(
        default_factory=RedactionConfig, description="what is scrubbed before anything leaves"
    )

    @field_validator("receivers", "responders")
    @classmethod
    def _unique_names(cls, items: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for item in items:
            if item.name in seen:
                raise ValueError(f"name {item.name!r} is used twice")
            seen.add(item.name)
        return items

    @model_validator(mode="after")
    def _one_name_space(self) -> NotifiersConfig:
        both = {r.name for r in self.receivers} & {r.name for r in self.responders}
        if both:
            raise ValueError(f"a responder and a receiver share the name(s) {sorted(both)}")
        return self

    @property
    def names(self) -> list[str]:
        """Every receiver and responder name: what routes may refer to."""
        return [r.name for r in self.receivers] + [r.name for r in self.responders]

    def receiver(self, name: str) -> ReceiverConfig | ResponderConfig:
        """The receiver or responder configuration called `name` (KeyError if there is none)."""
        for receiver in [*self.receivers, *self.responders]:
            if receiver.name == name:
                return receiver
        raise KeyError(name)
