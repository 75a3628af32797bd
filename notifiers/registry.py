"""From receiver configuration to live receivers: one place that knows every channel type.

Secrets are resolved here, at start-up, so a missing variable or secret stops the start with
the receiver's name and the reference (never a value) instead of failing at 3 a.m. Responders
are built here too, and their targets looked up, for the same reason.
"""

from __future__ import annotations

from pathlib import Path

from notifiers.channels.console import ConsoleReceiver
from notifiers.channels.file import FileReceiver
from notifiers.channels.slack import SlackReceiver
from notifiers.channels.sns import SnsReceiver
from notifiers.channels.teams import TeamsReceiver
from notifiers.channels.webhook import WebhookReceiver
from notifiers.config import (
    ConsoleReceiverConfig,
    FileReceiverConfig,
    NotifiersConfig,
    SlackReceiverConfig,
    SnsReceiverConfig,
    TeamsReceiverConfig,
    WebhookReceiverConfig,
)
from notifiers.receiver import Receiver, ThreadStore
from notifiers.responders.aws_lambda import LambdaResponder
from notifiers.responders.config import (
    EventBridgeResponderConfig,
    LambdaResponderConfig,
    ResponderBase,
    SqsResponderConfig,
    StepFunctionsResponderConfig,
)
from notifiers.responders.dry_run import DryRunLog
from notifiers.responders.eventbridge import EventBridgeResponder
from notifiers.responders.responder import Responder, ResponderCheckError
from notifiers.responders.sqs import SqsResponder
from notifiers.responders.stepfunctions import StepFunctionsResponder
from notifiers.secret_refs import SecretError, SecretResolver, scrub


class ReceiverSetupError(Exception):
    """Receivers that cannot be built; one line per receiver, naming it and saying why."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


def build_receiver(
    config: object,
    *,
    default_timeout: float,
    state_dir: Path,
    threads: ThreadStore,
    secrets: SecretResolver,
) -> Receiver:
    timeout = getattr(config, "timeout_seconds", None) or default_timeout
    match config:
        case ConsoleReceiverConfig():
            return ConsoleReceiver(config)
        case FileReceiverConfig():
            return FileReceiver(config, state_dir)
        case SlackReceiverConfig():
            return SlackReceiver(
                config,
                timeout=timeout,
                threads=threads,
                webhook_url=secrets.resolve(config.webhook_url) if config.webhook_url else None,
                bot_token=secrets.resolve(config.bot_token) if config.bot_token else None,
            )
        case TeamsReceiverConfig():
            return TeamsReceiver(
                config, timeout=timeout, webhook_url=secrets.resolve(config.webhook_url)
            )
        case SnsReceiverConfig():
            return SnsReceiver(config, timeout=timeout)
        case WebhookReceiverConfig():
            url = config.url if isinstance(config.url, str) else secrets.resolve(config.url)
            key = secrets.resolve(config.hmac_key) if config.hmac_key else None
            return WebhookReceiver(config, timeout=timeout, url=url, hmac_key=key)
    raise ReceiverSetupError(f"unknown receiver configuration {type(config).__name__}")


RESPONDER_KINDS: dict[type, type[Responder]] = {
    EventBridgeResponderConfig: EventBridgeResponder,
    LambdaResponderConfig: LambdaResponder,
    StepFunctionsResponderConfig: StepFunctionsResponder,
    SqsResponderConfig: SqsResponder,
}


def build_responder(config: object, *, default_timeout: float, dry_run_log: DryRunLog) -> Responder:
    """A responder whose target has been looked up (ResponderCheckError when that fails)."""
    timeout = getattr(config, "timeout_seconds", None) or default_timeout
    kind = RESPONDER_KINDS.get(type(config))
    if kind is None or not isinstance(config, ResponderBase):
        raise ReceiverSetupError(f"unknown responder configuration {type(config).__name__}")
    responder = kind(config, timeout=timeout, dry_run_log=dry_run_log)
    try:
        responder.check()
    except BaseException:
        responder.close()
        raise
    return responder


def build_receivers(
    config: NotifiersConfig,
    *,
    state_dir: Path,
    threads: ThreadStore,
    secrets: SecretResolver,
) -> dict[str, Receiver]:
    """Every configured receiver and responder by name; ReceiverSetupError names every one
    that fails (closing the ones already built)."""
    receivers: dict[str, Receiver] = {}
    problems: list[str] = []
    try:
        _build_all(
            config, receivers, problems, state_dir=state_dir, threads=threads, secrets=secrets
        )
    except BaseException:
        for receiver in receivers.values():
            receiver.close()
        raise
    if problems:
        for receiver in receivers.values():
            receiver.close()
        raise ReceiverSetupError(problems)
    return receivers


def _build_all(
    config: NotifiersConfig,
    receivers: dict[str, Receiver],
    problems: list[str],
    *,
    state_dir: Path,
    threads: ThreadStore,
    secrets: SecretResolver,
) -> None:
    for receiver_config in config.receivers:
        try:
            receivers[receiver_config.name] = build_receiver(
                receiver_config,
                default_timeout=config.delivery.timeout_seconds,
                state_dir=state_dir,
                threads=threads,
                secrets=secrets,
            )
        except SecretError as exc:
            problems.append(f"receiver {receiver_config.name!r}: {exc}")
        except ValueError as exc:
            reason = scrub(str(exc), secrets.resolved)
            problems.append(f"receiver {receiver_config.name!r}: {reason}")
    dry_run_log = DryRunLog(_under(state_dir, config.delivery.dry_run_file))
    for responder_config in config.responders:
        try:
            receivers[responder_config.name] = build_responder(
                responder_config,
                default_timeout=config.delivery.timeout_seconds,
                dry_run_log=dry_run_log,
            )
        except (ResponderCheckError, ValueError) as exc:
            problems.append(f"responder {responder_config.name!r}: {exc}")


def _under(state_dir: Path, path: str) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else Path(state_dir) / candidate
