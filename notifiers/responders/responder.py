"""The responder: a receiver whose send is one AWS call about one incident.

Each kind (`eventbridge`, `aws_lambda`, `stepfunctions`, `sqs`) says which call it makes and with
what (`request`), how to read the answer (`outcome`), and how to look its target up (`probe`).
The rest is shared and lives here: the dry run, the reading of AWS errors into
`(retryable, error)` for the retry stage, the in-doubt policy and the start-up check.
"""

from __future__ import annotations

import json
import logging
from typing import Any, ClassVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)

from notifiers import aws_errors
from notifiers.model import Notification
from notifiers.receiver import DELIVERED, SendResult
from notifiers.responders.actions import idempotency_key, payload_json, split
from notifiers.responders.config import ResponderBase
from notifiers.responders.dry_run import DryRunLog

log = logging.getLogger("notifiers")

RESEND = "resend"
DEAD_LETTER = "dead_letter"
_DENIED_HINT = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")


class ResponderCheckError(Exception):
    """The target of a responder is missing or out of reach of the engine's AWS identity."""


class Responder:
    """One configured action; `send` takes one action made by `actions`."""

    kind: ClassVar[str]
    service: ClassVar[str]  # boto3 service name
    operation: ClassVar[str]  # boto3 method that runs the action
    call: ClassVar[str]  # the IAM action it needs, as people read it: "lambda:InvokeFunction"
    check_calls: ClassVar[str]  # the IAM actions of the start-up check
    deduplicates: bool = False  # AWS itself drops a repeat with the same key (SQS: FIFO only)

    def __init__(self, config: ResponderBase, *, timeout: float, dry_run_log: DryRunLog) -> None:
        self.name: str = config.name
        self.min_interval: float = config.min_interval_seconds
        self.config = config
        self.dry_run: bool = config.dry_run
        self.transitions = tuple(config.transitions)
        self.in_doubt: str = config.in_doubt or (RESEND if self.deduplicates else DEAD_LETTER)
        self._dry_run_log = dry_run_log
        self._client: Any = None
        if not self.dry_run:
            try:
                self._client = aws_errors.client(
                    self.service, self.region, config.endpoint_url, timeout
                )
            except NoRegionError:
                raise ResponderCheckError(
                    "no AWS region: set region: on the responder or AWS_REGION"
                ) from None

    # -- what each kind says -----------------------------------------------------------------

    @property
    def region(self) -> str | None:
        """The configured region, else the one in the target's ARN or URL, else AWS's chain."""
        region: str | None = self.config.region
        return region

    def target(self) -> str:
        """The target as people name it, for messages."""
        raise NotImplementedError

    def request(self, action: Notification, body: str) -> dict[str, Any]:
        """The keyword arguments of the boto3 call for one action with payload `body`."""
        raise NotImplementedError

    def outcome(self, response: dict[str, Any]) -> SendResult:
        """An answer without an exception is a success unless a kind knows better."""
        return DELIVERED

    def already_done(self, exc: ClientError) -> bool:
        """True when the error says an earlier send of this very action took effect."""
        return False

    def probe(self) -> None:
        """Looks the target up; raises what boto3 raises."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------

    @property
    def label(self) -> str:
        return self.call.split(":", 1)[0]

    def actions(self, notification: Notification) -> list[Notification]:
        """The actions a notification to this responder asks for (maybe none)."""
        return split(notification, self.transitions, dry_run=self.dry_run)

    def send(self, action: Notification) -> SendResult:
        body = payload_json(self.name, action)
        params = self.request(action, body)
        if self.dry_run:
            self._dry_run_log.append(
                {
                    "responder": self.name,
                    "kind": self.kind,
                    "idempotency_key": idempotency_key(self.name, action),
                    "would_call": self.call,
                    "request": _readable(params, body),
                }
            )
            return DELIVERED
        try:
            response = getattr(self._client, self.operation)(**params)
        except ClientError as exc:
            if self.already_done(exc):
                return DELIVERED
            return aws_errors.exception_result(self.label, exc)
        except BotoCoreError as exc:
            return aws_errors.exception_result(
                self.label, exc, resend_in_doubt=self.in_doubt == RESEND
            )
        return self.outcome(response)

    def check(self) -> None:
        """Start-up look-up of the target. A definite answer (not found, denied, no
        credentials) raises ResponderCheckError; an unreachable endpoint only warns, since
        sends will be retried and, failing that, dead-lettered."""
        if self.dry_run or not self.config.check:
            return
        try:
            self.probe()
        except ClientError as exc:
            code, _, _ = aws_errors.error_parts(exc)
            hint = ""
            if code in _DENIED_HINT or "denied" in code.lower():
                hint = (
                    f" (the engine's AWS identity needs {self.check_calls} and {self.call}, "
                    "or set check: false to skip this look-up)"
                )
            raise ResponderCheckError(
                f"{self.target()}: {aws_errors.describe(exc)}{hint}"
            ) from None
        except (NoCredentialsError, PartialCredentialsError):
            raise ResponderCheckError(
                "no AWS credentials found (environment, shared profile, container or instance role)"
            ) from None
        except NoRegionError:
            raise ResponderCheckError(
                "no AWS region: set region: on the responder or AWS_REGION"
            ) from None
        except ParamValidationError as exc:
            reason = " ".join(str(exc).split())
            raise ResponderCheckError(f"{self.target()}: {reason}") from None
        except BotoCoreError as exc:
            log.warning(
                "responder %s: cannot check %s now (%s); failed sends will be retried, "
                "then dead-lettered",
                self.name,
                self.target(),
                type(exc).__name__,
            )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _readable(params: dict[str, Any], body: str) -> Any:
    """The request with the payload shown as JSON rather than as an escaped string."""

    def walk(value: Any) -> Any:
        if value == body or value == body.encode("utf-8"):
            return json.loads(body)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(params)
