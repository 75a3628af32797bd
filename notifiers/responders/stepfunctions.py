"""Step Functions: one execution per action (`states:StartExecution`), named after its key.

A standard state machine keeps execution names for 90 days and refuses a second execution with
the same name, so a repeated start (a retry after a timeout, a restart after a crash between
sending and recording) never runs the workflow twice: `ExecutionAlreadyExists` means an earlier
send took effect, and counts as delivered. Express state machines do not keep names; pair them
with `in_doubt: dead_letter`.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from notifiers import aws_errors
from notifiers.model import Notification
from notifiers.responders.actions import service_id
from notifiers.responders.config import StepFunctionsResponderConfig
from notifiers.responders.responder import Responder

NAME_PREFIX = "spanwatch-"


class StepFunctionsResponder(Responder):
    kind = "stepfunctions"
    service = "stepfunctions"
    operation = "start_execution"
    call = "states:StartExecution"
    check_calls = "states:DescribeStateMachine"
    deduplicates = True
    config: StepFunctionsResponderConfig

    @property
    def region(self) -> str | None:
        return self.config.region or self.config.state_machine_arn.split(":")[3]

    def target(self) -> str:
        return f"state machine {self.config.state_machine_arn!r}"

    def execution_name(self, action: Notification) -> str:
        """At most 80 characters of [A-Za-z0-9-], as Step Functions requires."""
        return NAME_PREFIX + service_id(self.name, action)

    def request(self, action: Notification, body: str) -> dict[str, Any]:
        return {
            "stateMachineArn": self.config.state_machine_arn,
            "name": self.execution_name(action),
            "input": body,
        }

    def already_done(self, exc: ClientError) -> bool:
        code, _, _ = aws_errors.error_parts(exc)
        return code == "ExecutionAlreadyExists"

    def probe(self) -> None:
        self._client.describe_state_machine(stateMachineArn=self.config.state_machine_arn)
