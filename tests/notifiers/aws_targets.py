"""AWS targets for responders, on moto's server: buses, functions, state machines, queues.

moto runs here as its own process (`python -m moto.server`) with its request recorder on, so that
what reached AWS can be read back from moto itself: without a Docker engine moto's Lambda cannot
run function code (its `use_docker: false` backend answers every invocation without running
anything), and the recorder's log is where an invocation and its payload show. The recorder
writes to a file named by the environment of the server's process, which is why this server is
not the in-process one the SNS tests share.

`HoldingProxy` sits between a client and moto and forwards everything, but can hold back the
answer to the calls that run an action: the action has reached AWS, the client never hears of
it. Killing the client then is a crash between sending and recording.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3

from tests.notifiers.conftest import free_port
from tests.patience import PATIENCE

ACTION_TARGETS = {"AWSEvents.PutEvents", "AWSStepFunctions.StartExecution", "AmazonSQS.SendMessage"}


class MotoProcess:
    """moto's server in a child process, recording every request it serves."""

    def __init__(self, recording: Path) -> None:
        port = free_port()
        env = {
            **os.environ,
            "MOTO_ENABLE_RECORDING": "true",
            "MOTO_RECORDER_FILEPATH": str(recording),
        }
        self.url = f"http://127.0.0.1:{port}"
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    self.stop()
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.05)
        # Lambda without Docker: invocations are accepted and answered, never run.
        self.post("/moto-api/config", json.dumps({"lambda": {"use_docker": False}}).encode())

    def post(self, path: str, data: bytes, content_type: str = "application/json") -> None:
        request = urllib.request.Request(
            self.url + path, data=data, headers={"Content-Type": content_type}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def recording(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(
            f"{self.url}/moto-api/recorder/download-recording", timeout=10
        ) as response:
            text = response.read().decode("utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def set_auth(self, free_requests: float) -> None:
        """IAM policies are enforced after `free_requests` more requests (inf: never)."""
        self.post("/moto-api/reset-auth", str(free_requests).encode(), "text/plain")

    def stop(self) -> None:
        self._process.kill()
        self._process.wait()


def client(url: str, service: str, **credentials: str) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=credentials.get("key", "testing"),
        aws_secret_access_key=credentials.get("secret", "testing"),
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_function(url: str, name: str | None = None) -> str:
    """A Lambda function (its code never runs on moto without Docker); returns its name."""
    name = name or unique("fn")
    iam = client(url, "iam")
    role_name = unique("role")
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    client(url, "lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )
    return name


def event_invocations(moto: MotoProcess, function: str) -> list[dict[str, Any]]:
    """Payloads of the asynchronous invocations of `function` (named or by ARN) that moto
    received, in order."""
    payloads = []
    for entry in moto.recording():
        path = unquote(urlsplit(entry["url"]).path)
        headers = {k.lower(): v for k, v in entry["headers"].items()}
        named = path.removesuffix("/invocations").rpartition("/functions/")[2]
        if not path.endswith("/invocations") or named.rpartition(":function:")[2] != function:
            continue
        if headers.get("x-amz-invocation-type") != "Event":
            continue
        body = entry.get("body") or ""
        raw = base64.b64decode(body) if entry.get("body_encoded") else body.encode()
        payloads.append(json.loads(raw))
    return payloads


def make_queue(url: str, fifo: bool = False) -> tuple[str, str]:
    """A queue's URL and ARN."""
    sqs = client(url, "sqs")
    name = unique("q") + (".fifo" if fifo else "")
    attributes = {"FifoQueue": "true"} if fifo else {}
    queue_url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return queue_url, arn["Attributes"]["QueueArn"]


def drain(url: str, queue_url: str, wait: float = 0.5) -> list[dict[str, Any]]:
    """Every message now on the queue (received and deleted)."""
    sqs = client(url, "sqs")
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        messages += batch
        if not batch and time.monotonic() > deadline:
            return messages
        if not batch:
            time.sleep(0.05)


def make_bus_to_queue(url: str) -> tuple[str, str]:
    """A bus with a rule sending spanwatch's events to a new queue; (bus name, queue URL)."""
    bus = unique("bus")
    queue_url, queue_arn = make_queue(url)
    events = client(url, "events")
    events.create_event_bus(Name=bus)
    events.put_rule(
        Name="to-queue", EventBusName=bus, EventPattern=json.dumps({"source": ["spanwatch"]})
    )
    events.put_targets(
        Rule="to-queue", EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}]
    )
    return bus, queue_url


def make_state_machine(url: str) -> str:
    iam = client(url, "iam")
    role = iam.create_role(RoleName=unique("sfn"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    created = client(url, "stepfunctions").create_state_machine(
        name=unique("sm"), definition=json.dumps(definition), roleArn=role
    )
    return created["stateMachineArn"]


def executions(url: str, arn: str) -> list[dict[str, Any]]:
    """Every execution of the state machine with its input."""
    sfn = client(url, "stepfunctions")
    found = sfn.list_executions(stateMachineArn=arn)["executions"]
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in found]


def is_action_call(headers: dict[str, str], path: str) -> bool:
    """A request that runs an action (as opposed to a look-up)."""
    lower = {k.lower(): v for k, v in headers.items()}
    if lower.get("x-amz-target") in ACTION_TARGETS:
        return True
    return path.endswith("/invocations") and lower.get("x-amz-invocation-type") == "Event"


class HoldingProxy:
    """Forwards to moto; once `hold` is set, the answer to an action call is never sent back."""

    def __init__(self, upstream: str, hold: Callable[[dict[str, str], str], bool]) -> None:
        self.held = threading.Event()
        self._release = threading.Event()
        target = urlsplit(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                connection.request(self.command, self.path, body=body, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
                if hold(dict(self.headers.items()), self.path):
                    proxy.held.set()  # moto has it; its answer stays here
                    proxy._release.wait()
                    return
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

            def log_message(self, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
