"""moto's S3 server on loopback, and the AWS environment a user of it would set."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from tests.loopback_ports import free_port

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's threaded server on a free loopback port; yields its URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def aws_environment(endpoint: str, **overrides: str | None) -> dict[str, str]:
    """The process environment with only the given AWS settings (no profile, no instance role)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(FAKE_CREDENTIALS)
    env["AWS_ENDPOINT_URL"] = endpoint
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # never look for an instance role off loopback
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def admin_client(endpoint: str, service: str = "s3") -> Any:
    """A client for setting up the fake AWS in tests: buckets (what the Collector's exporter
    would have done), IAM users and policies."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def s3_admin(endpoint: str) -> Any:
    return admin_client(endpoint)


def upload_tree(s3: Any, bucket: str, prefix: str, root: Path) -> None:
    """Every file under `root` to `s3://bucket/prefix<relative path>`."""
    for path in sorted(root.rglob("*")):
        if path.is_file():
            s3.put_object(
                Bucket=bucket,
                Key=prefix + path.relative_to(root).as_posix(),
                Body=path.read_bytes(),
            )


def set_moto_auth(endpoint: str, free_requests: float) -> None:
    """moto checks IAM policies after `free_requests` more requests (inf: never)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=str(free_requests).encode(),
        headers={"Content-Type": "text/plain"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
