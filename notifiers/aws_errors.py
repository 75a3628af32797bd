"""How AWS answers map onto `(retryable, error)`: one reading shared by SNS and the responders.

Throttling and server faults are worth another try; a missing resource, a denied permission or
an invalid request is not, and goes to the dead letters at once with the service's reason. A
connection that fails before the request leaves is always worth another try. One that fails
after the request may have reached AWS (a read timeout, a dropped connection) leaves the call
*in doubt*: it may have taken effect, which matters for an action that must not run twice.
"""

from __future__ import annotations

from typing import Any

import boto3
import re2
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from notifiers.receiver import DeliveryError, SendResult, transport_error
from notifiers.render import truncate

RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "Throttled",
        "RequestThrottled",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "InternalError",
        "InternalFailure",
        "InternalException",
        "ServiceException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "KMSThrottling",
        "RequestTimeout",
        "RequestTimeoutException",
        "ExecutionLimitExceeded",
        "EC2ThrottledException",
    }
)
_XML_FIELD = re2.compile(r"<(Code|Message)>([^<]*)</(?:Code|Message)>")
_SETUP_ERRORS = (NoCredentialsError, PartialCredentialsError, NoRegionError, ParamValidationError)


def client(service: str, region: str | None, endpoint_url: str | None, timeout: float) -> Any:
    """A boto3 client with botocore's own retries off, so that the retry stage decides.

    Credentials come from AWS's default chain (environment, profile, container or instance
    role), looked up afresh for each client; nothing here reads or logs them.
    """
    return boto3.session.Session().client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=timeout,
            read_timeout=timeout,
        ),
    )


def error_parts(exc: ClientError) -> tuple[str, str, int | None]:
    """(code, one-line message, HTTP status) of an AWS error answer.

    Some answers arrive as an XML body that botocore could not parse into fields (a proxy, or a
    JSON service answering in XML): the code and message are read out of it then.
    """
    error = exc.response.get("Error", {}) or {}
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or "")
    if message.lstrip().startswith("<"):
        fields = dict((name, value) for name, value in _XML_FIELD.findall(message))
        code = fields.get("Code") or code
        message = fields.get("Message", "")
    if not code or code.isdigit():
        code = {403: "AccessDenied", 404: "NotFound"}.get(status or 0, f"HTTP {status}")
    return code, truncate(" ".join(message.split()), 200), status


def describe(exc: ClientError) -> str:
    """`Code: message` on one line."""
    code, message, _ = error_parts(exc)
    return f"{code}: {message}" if message else code


def client_error_result(label: str, exc: ClientError) -> SendResult:
    """Throttling and server faults are retried (throttling as a 429, which the breaker does not
    count); anything else is final."""
    code, message, status = error_parts(exc)
    failure = DeliveryError(f"{label} {code}" + (f": {message}" if message else ""), status=status)
    throttled = code in RETRYABLE_CODES and ("thrott" in code.lower() or "toomany" in code.lower())
    if throttled:
        failure.status = 429
    return code in RETRYABLE_CODES or (status or 0) >= 500, failure


def exception_result(label: str, exc: Exception, *, resend_in_doubt: bool = True) -> SendResult:
    """Any exception of a boto3 call as `(retryable, error)`.

    A transport failure after the request may have left is retried only with `resend_in_doubt`;
    otherwise it is final, with a reason that says the call may have taken effect.
    """
    if isinstance(exc, ClientError):
        return client_error_result(label, exc)
    if isinstance(exc, _SETUP_ERRORS):
        return False, DeliveryError(f"{label} request not possible: {type(exc).__name__}")
    if isinstance(exc, HTTPClientError) and not isinstance(exc, BotoConnectionError):
        if not resend_in_doubt:
            return False, DeliveryError(
                f"in doubt: {label} call interrupted after sending ({type(exc).__name__}); "
                "it may have taken effect"
            )
        return transport_error(exc)
    if isinstance(exc, BotoCoreError):
        return transport_error(exc)
    raise exc
