"""Lambda: the function invoked asynchronously (`InvocationType: Event`) with the payload.

Lambda queues the event and answers 202; the function's own retries and failure destinations
are configured on the function. Lambda does not drop a repeated invocation, so after a send in
doubt the default is a dead letter, not a resend; a function that drops repeats by
`idempotency_key` (Powertools' idempotency utility does) can take `in_doubt: resend`.
At start-up the function is looked up (`GetFunctionConfiguration`) and a `DryRun` invocation
checks that the engine may invoke it, without running it.
"""

from __future__ import annotations

from typing import Any

from notifiers.model import Notification
from notifiers.receiver import DELIVERED, DeliveryError, SendResult
from notifiers.responders.config import LambdaResponderConfig
from notifiers.responders.responder import Responder


class LambdaResponder(Responder):
    kind = "lambda"
    service = "lambda"
    operation = "invoke"
    call = "lambda:InvokeFunction"
    check_calls = "lambda:GetFunctionConfiguration"
    config: LambdaResponderConfig

    @property
    def region(self) -> str | None:
        function = self.config.function
        if self.config.region is None and function.startswith("arn:"):
            return function.split(":")[3]
        return self.config.region

    def target(self) -> str:
        return f"Lambda function {self.config.function!r}"

    def _function(self) -> dict[str, Any]:
        function: dict[str, Any] = {"FunctionName": self.config.function}
        if self.config.qualifier:
            function["Qualifier"] = self.config.qualifier
        return function

    def request(self, action: Notification, body: str) -> dict[str, Any]:
        return {**self._function(), "InvocationType": "Event", "Payload": body.encode("utf-8")}

    def outcome(self, response: dict[str, Any]) -> SendResult:
        status = response.get("StatusCode")
        if status == 202:
            return DELIVERED
        return False, DeliveryError(f"lambda answered {status} to an asynchronous invocation")

    def probe(self) -> None:
        self._client.get_function_configuration(**self._function())
        self._client.invoke(**self._function(), InvocationType="DryRun")
