"""Resolving secret references (`{env: NAME}`, `{aws_secret: ARN}`) into values that never leak.

A resolved value is wrapped in `Secret`, whose repr and str are masked, so that it cannot end up
in a log line or an exception by accident; `scrub` removes revealed values (and, for URLs, their
path and query) from any text that is about to be logged or stored, as a second line of defence.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from notifiers.config import AwsSecretRef, EnvSecretRef

MASK = "***"


class SecretError(Exception):
    """A reference that cannot be resolved; the message names the reference, never a value."""


class Secret:
    """A secret value with a masked repr; call `reveal()` only where the value is sent."""

    __slots__ = ("_source", "_value")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self._source = source

    def reveal(self) -> str:
        return self._value

    @property
    def source(self) -> str:
        return self._source

    def fragments(self) -> list[str]:
        """The value and, for a URL, its path and query: the parts an error message might quote."""
        parts = [self._value]
        if self._value.startswith(("http://", "https://")):
            split = urlsplit(self._value)
            parts += [p for p in (split.path, split.query) if len(p) >= 8]
        return parts

    def __repr__(self) -> str:
        return f"Secret({self._source}, {MASK})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("secrets are not pickled")


def scrub(text: str, secrets: Iterable[Secret]) -> str:
    """`text` with every fragment of every secret replaced by ***."""
    fragments = sorted({f for s in secrets for f in s.fragments() if f}, key=len, reverse=True)
    for fragment in fragments:
        text = text.replace(fragment, MASK)
    return text


class SecretResolver:
    """Resolves references once and remembers the values, so they can be scrubbed everywhere."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self._cache: dict[Any, Secret] = {}

    @property
    def resolved(self) -> list[Secret]:
        return list(self._cache.values())

    def resolve(self, ref: EnvSecretRef | AwsSecretRef) -> Secret:
        if ref not in self._cache:
            if isinstance(ref, EnvSecretRef):
                value = self._environ.get(ref.env, "")
                if not value.strip():
                    raise SecretError(f"{ref.describe()} is not set or empty")
            else:
                value = _read_aws_secret(ref)
            self._cache[ref] = Secret(value.strip(), ref.describe())
        return self._cache[ref]


def _read_aws_secret(ref: AwsSecretRef) -> str:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = boto3.client(
            "secretsmanager", region_name=ref.region, endpoint_url=ref.endpoint_url
        )
        response = client.get_secret_value(SecretId=ref.aws_secret)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise SecretError(f"cannot read {ref.describe()}: {code}") from None
    except BotoCoreError as exc:
        raise SecretError(f"cannot read {ref.describe()}: {type(exc).__name__}") from None
    value: str | None = response.get("SecretString")
    if value is None:
        raise SecretError(f"{ref.describe()} has no SecretString (binary secrets are not used)")
    if ref.key is None:
        return value
    try:
        field = json.loads(value)[ref.key]
    except (ValueError, KeyError, TypeError):
        raise SecretError(
            f"{ref.describe()}: the secret is not a JSON object with that key"
        ) from None
    if not isinstance(field, str) or not field.strip():
        raise SecretError(f"{ref.describe()}: the key does not hold a non-empty string")
    return field
