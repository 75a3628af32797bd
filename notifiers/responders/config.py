"""Responder configuration (`notifiers.responders:` in spanwatch's YAML), validated by pydantic.

Responders share one name space with the receivers, so that routes and escalation levels name
them the same way. No credential is ever configured: the AWS clients take them from the
environment or AWS's default chain (profile, container or instance role).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TRIGGERS = (
    "incident.opened",
    "incident.escalated",
    "incident.acknowledged",
    "incident.resolved",
)
Trigger = Literal[
    "incident.opened", "incident.escalated", "incident.acknowledged", "incident.resolved"
]
InDoubt = Literal["resend", "dead_letter"]
_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d$"


def _first_opened() -> list[Trigger]:
    return ["incident.opened"]


class ResponderBase(BaseModel):
    """What every responder has.

    `transitions`: which incident transitions run the action (once per incident and transition;
    `incident.escalated` once per level reached). `dry_run`: record the call it would make in
    the dry-run file instead of calling AWS. `in_doubt`: after a crash between sending and
    recording, or a timeout after sending, `resend` tries again with the same idempotency key
    and `dead_letter` keeps it for a human; unset, the kind's default (resend only where AWS
    itself drops a repeat). `check`: look the target up at start-up.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME_PATTERN, description="what routes call it by")
    transitions: list[Trigger] = Field(
        default_factory=_first_opened,
        min_length=1,
        description="incident transitions that run the action",
    )
    dry_run: bool = Field(
        False, description="append the request to delivery.dry_run_file instead of calling AWS"
    )
    in_doubt: InDoubt | None = Field(
        None,
        description="a send that may have run: `resend` or `dead_letter` (default: resend "
        "only where AWS drops repeats)",
    )
    check: bool = Field(True, description="look the target up at start-up")
    region: str | None = Field(
        default=None, pattern=_REGION_PATTERN, description="default: the target ARN's or URL's"
    )
    endpoint_url: str | None = Field(None, description="a VPC endpoint or a local stand-in")
    timeout_seconds: float | None = Field(
        default=None, gt=0, description="one call's timeout (default: delivery.timeout_seconds)"
    )
    min_interval_seconds: float = Field(
        default=0.0, ge=0, description="least time between two calls"
    )

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("endpoint_url must start with http:// or https://")
        return value


class EventBridgeResponderConfig(ResponderBase):
    """Puts one event per action on an EventBridge bus; rules on the bus route it onwards."""

    type: Literal["eventbridge"] = Field(description="the responder's kind")
    event_bus: str = Field(
        default="default", min_length=1, max_length=1600, description="bus name or ARN"
    )
    source: str = Field(
        default="spanwatch",
        pattern=r"^[A-Za-z0-9._/-]{1,256}$",
        description="the event's `source` (not `aws.*`)",
    )
    detail_type: str = Field(
        default="spanwatch incident",
        min_length=1,
        max_length=128,
        description="the event's `detail-type`",
    )

    @field_validator("source")
    @classmethod
    def _not_aws(cls, value: str) -> str:
        if value.startswith("aws."):
            raise ValueError("event sources starting with 'aws.' are reserved for AWS services")
        return value


class LambdaResponderConfig(ResponderBase):
    """Invokes a Lambda function asynchronously (`InvocationType: Event`) with the incident."""

    type: Literal["lambda"] = Field(description="the responder's kind")
    function: str = Field(
        min_length=1,
        max_length=170,
        pattern=r"^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?$",
        description="function name or ARN",
    )
    qualifier: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9$_-]{1,128}$", description="version or alias"
    )


class StepFunctionsResponderConfig(ResponderBase):
    """Starts an execution of a (standard) state machine, named after the idempotency key."""

    type: Literal["stepfunctions"] = Field(description="the responder's kind")
    state_machine_arn: str = Field(
        pattern=r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_.-]{1,80}$",
        description="the state machine's ARN",
    )


class SqsResponderConfig(ResponderBase):
    """Sends one message per action to an SQS queue (FIFO when the URL ends in `.fifo`)."""

    type: Literal["sqs"] = Field(description="the responder's kind")
    queue_url: str = Field(
        pattern=r"^https?://[^\s/]+/\d{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?$",
        description="the queue's URL (FIFO when it ends in `.fifo`)",
    )

    @property
    def is_fifo(self) -> bool:
        return self.queue_url.endswith(".fifo")


ResponderConfig = Annotated[
    EventBridgeResponderConfig
    | LambdaResponderConfig
    | StepFunctionsResponderConfig
    | SqsResponderConfig,
    Field(discriminator="type"),
]
