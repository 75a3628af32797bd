"""From receiver configuration to live receivers: one place that knows every channel type.

Secrets are resolved here, at start-up, so a missing variable or secret stops the start with
the receiver's name and the reference (never a value) instead of failing at 3 a.m.
"""

from __future__ import annotations

from pathlib import Path

from notifiers.config import (
    ConsoleReceiverConfig,
    FileReceiverConfig,
    NotifiersConfig,
    SlackReceiverConfig,
    SnsReceiverConfig,
    TeamsReceiverConfig,
    WebhookReceiverConfig,
)
from notifiers.console import ConsoleReceiver
from notifiers.file import FileReceiver
from notifiers.receiver import Receiver, ThreadStore
from notifiers.secret_refs import SecretError, SecretResolver, scrub
from notifiers.slack import SlackReceiver
from notifiers.sns import SnsReceiver
from notifiers.teams import TeamsReceiver
from notifiers.webhook import WebhookReceiver


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


def build_receivers(
    config: NotifiersConfig,
    *,
    state_dir: Path,
    threads: ThreadStore,
    secrets: SecretResolver,
) -> dict[str, Receiver]:
    """Every configured receiver by name; ReceiverSetupError names every one that fails."""
    receivers: dict[str, Receiver] = {}
    problems: list[str] = []
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
    if problems:
        raise ReceiverSetupError(problems)
    return receivers
