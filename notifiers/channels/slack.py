"""The Slack receiver: incoming webhooks, or the Web API with a bot token (threads and updates).

slack-sdk's own retry handlers are switched off (`retry_handlers=[]`): the retry stage decides,
and it needs to see each 429 and its Retry-After. The SDK's logger is silenced because at debug
level it prints the webhook URL, which is a secret.
"""

from __future__ import annotations

import logging
import urllib.error
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.webhook import WebhookClient

from notifiers.channels.slack_blocks import build_message, build_reply
from notifiers.config import SlackReceiverConfig
from notifiers.model import Notification, incident_ids
from notifiers.receiver import (
    DELIVERED,
    DeliveryError,
    SendResult,
    ThreadStore,
    http_result,
    parse_retry_after,
    transport_error,
)
from notifiers.secret_refs import Secret

_SDK_LOGGER = logging.getLogger("notifiers.channels.slack.sdk")
_SDK_LOGGER.setLevel(logging.CRITICAL + 1)
_SDK_LOGGER.propagate = False

RETRYABLE_API_ERRORS = {
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
}
_TRANSPORT_ERRORS = (urllib.error.URLError, TimeoutError, ConnectionError, OSError)


class SlackReceiver:
    """Posts Block Kit messages; with a bot token, follows an incident in one message/thread."""

    def __init__(
        self,
        config: SlackReceiverConfig,
        *,
        timeout: float,
        threads: ThreadStore,
        webhook_url: Secret | None = None,
        bot_token: Secret | None = None,
    ) -> None:
        self.name = config.name
        self.min_interval = config.min_interval_seconds
        self._config = config
        self._threads = threads
        self._webhook: WebhookClient | None = None
        self._web: WebClient | None = None
        if webhook_url is not None:
            self._webhook = WebhookClient(
                webhook_url.reveal(),
                timeout=timeout,  # type: ignore[arg-type]  # urllib takes seconds as a float
                retry_handlers=[],
                logger=_SDK_LOGGER,
            )
        elif bot_token is not None:
            self._web = WebClient(
                token=bot_token.reveal(),
                base_url=config.api_base_url,
                timeout=timeout,  # type: ignore[arg-type]  # urllib takes seconds as a float
                retry_handlers=[],
                logger=_SDK_LOGGER,
            )
        else:
            raise ValueError("slack receiver needs a webhook URL or a bot token")

    def send(self, notification: Notification) -> SendResult:
        message = build_message(notification, self._config.max_incidents)
        try:
            if self._webhook is not None:
                response = self._webhook.send_dict(message)
                return http_result(
                    response.status_code, response.body, _header(response.headers, "retry-after")
                )
            return self._send_with_bot(notification, message)
        except SlackApiError as exc:
            return _api_error(exc)
        except SlackRequestError as exc:
            return False, DeliveryError(f"request rejected by slack-sdk ({type(exc).__name__})")
        except _TRANSPORT_ERRORS as exc:
            return transport_error(exc)

    def _send_with_bot(self, notification: Notification, message: dict[str, Any]) -> SendResult:
        assert self._web is not None
        ids = incident_ids(notification)
        thread = next((t for t in (self._threads.get_thread(self.name, i) for i in ids) if t), None)
        if thread is None:
            channel = self._config.channel
            assert channel is not None  # the configuration requires one with a bot token
            response = self._web.chat_postMessage(channel=channel, **message)
            self._threads.put_thread(self.name, ids, str(response["channel"]), str(response["ts"]))
            return DELIVERED
        channel, ts = thread
        mode = self._config.thread_updates
        if mode in ("update", "update_and_reply"):
            try:
                self._web.chat_update(channel=channel, ts=ts, **message)
            except SlackApiError as exc:
                if exc.response.get("error") not in ("message_not_found", "cant_update_message"):
                    raise
                response = self._web.chat_postMessage(channel=channel, **message)
                self._threads.put_thread(self.name, ids, channel, str(response["ts"]))
                return DELIVERED
        if mode in ("reply", "update_and_reply"):
            self._web.chat_postMessage(
                channel=channel,
                thread_ts=ts,
                reply_broadcast=notification.transition == "incident.escalated",
                **build_reply(notification),
            )
        return DELIVERED

    def close(self) -> None:
        return None


def _header(headers: Any, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return None


def _api_error(exc: SlackApiError) -> SendResult:
    response = exc.response
    status = getattr(response, "status_code", None) or 200
    code = str(response.get("error", "unknown_error")) if hasattr(response, "get") else "?"
    retry_after = parse_retry_after(_header(getattr(response, "headers", {}), "retry-after"))
    if status == 429:
        code = code or "ratelimited"
    error = DeliveryError(
        f"slack API error: {code} (HTTP {status})", status=status, retry_after=retry_after
    )
    if status == 429 or status >= 500 or code in RETRYABLE_API_ERRORS:
        if status != 429 and code in ("ratelimited", "rate_limited"):
            error.status = 429
        return True, error
    return False, error
