"""Slack: Block Kit over a real webhook / Web API fake on loopback, with Slack's answers."""

from __future__ import annotations

import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from notifiers.channels.slack_blocks import ACK_ACTION, RESOLVE_ACTION, build_message
from notifiers.config import SlackReceiverConfig
from notifiers.dispatcher import Dispatcher
from notifiers.model import Notification
from notifiers.secret_refs import SecretResolver
from tests.notifiers.conftest import deliver_all, fast_config, make_incident, make_notification
from tests.notifiers.fakes import (
    Reply,
    SlackWebApi,
    block_kit_problems,
    slack_webhook_responder,
)
from tests.patience import PATIENCE

HOOK_PATH = "/services/T0SPAN/B0SPAN/hooksecret123"


def webhook_setup(service, tmp_path, **receiver):
    fake = service(slack_webhook_responder)
    env = {"SLACK_URL": fake.url + HOOK_PATH}
    slack = SlackReceiverConfig(
        name="slack", webhook_url={"env": "SLACK_URL"}, min_interval_seconds=0, **receiver
    )
    return fake, fast_config([slack]), SecretResolver(env)


def test_webhook_message_is_block_kit_with_severity_labels_evidence_runbook_and_buttons(
    service, tmp_path
) -> None:
    fake, config, secrets = webhook_setup(service, tmp_path)
    stats = deliver_all(config, tmp_path, [make_notification(receiver="slack")], secrets=secrets)
    assert stats["sent"] == 1
    (request,) = fake.requests
    assert request.path == HOOK_PATH
    message = request.json()
    assert block_kit_problems(message) == []
    assert message["blocks"][0]["type"] == "header"
    assert message["blocks"][0]["text"]["text"].startswith("[CRITICAL] Shell command pipes")
    text = json.dumps(message)
    assert "*user*\\nalice" in text and "*Count*\\n1" in text
    assert "https://runbooks.example.com/shell-pipe|Runbook" in text
    assert "curl -s https://get.example.com | sh" in text
    (actions,) = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        (ACK_ACTION, "inc-1"),
        (RESOLVE_ACTION, "inc-1"),
    ]


def test_resolved_notifications_have_no_buttons(service, tmp_path) -> None:
    fake, config, secrets = webhook_setup(service, tmp_path)
    resolved = make_notification(
        receiver="slack",
        transition="incident.resolved",
        incidents=[make_incident(status="resolved")],
    )
    deliver_all(config, tmp_path, [resolved], secrets=secrets)
    blocks = fake.requests[0].json()["blocks"]
    assert not [b for b in blocks if b["type"] == "actions"]


def test_429_with_retry_after_is_honoured_before_the_next_attempt(service, tmp_path) -> None:
    fake, config, secrets = webhook_setup(service, tmp_path)
    fake.script(Reply(429, "rate_limited", {"Retry-After": "0.25"}))
    stats = deliver_all(config, tmp_path, [make_notification(receiver="slack")], secrets=secrets)
    first, second = fake.requests
    assert second.at - first.at >= 0.25
    assert stats["sent"] == 1 and stats["rate_limited"] == 1 and stats.get("breaker_opened", 0) == 0


def test_server_errors_and_timeouts_are_retried_until_delivered(service, tmp_path) -> None:
    fake, config, secrets = webhook_setup(service, tmp_path, timeout_seconds=1.0)
    fake.script(Reply(500, "oops"), Reply(200, "ok", held=True))
    stats = deliver_all(config, tmp_path, [make_notification(receiver="slack")], secrets=secrets)
    # the 500 and the held reply failed; a prompt one only when a busy machine stalls the
    # client past its timeout
    assert [r.status for r in fake.requests[:2]] == [500, 200] and len(fake.requests) >= 3
    failed = len(fake.requests) - 1
    assert stats["sent"] == 1 and stats["failed_attempts"] == stats["retried"] == failed


def test_invalid_payload_is_not_retried_and_lands_in_dead_letters(service, tmp_path) -> None:
    fake, config, secrets = webhook_setup(service, tmp_path)
    fake.script(Reply(400, "invalid_blocks"))
    stats = deliver_all(config, tmp_path, [make_notification(receiver="slack")], secrets=secrets)
    assert len(fake.requests) == 1
    assert stats["dead_lettered"] == 1 and stats.get("sent", 0) == 0
    letter = json.loads((tmp_path / "dead-letters.jsonl").read_text())
    assert letter["receiver"] == "slack" and letter["reason"] == "HTTP 400: invalid_blocks"
    assert letter["notification"]["key"] == "grp-1:incident.opened:0"


def test_oversized_text_is_truncated_with_a_visible_mark_and_accepted(service, tmp_path) -> None:
    fake, config, secrets = webhook_setup(service, tmp_path)
    incident = make_incident(title="T" * 400, evidence={f"field{i}": "v" * 900 for i in range(8)})
    stats = deliver_all(
        config,
        tmp_path,
        [make_notification(receiver="slack", incidents=[incident])],
        secrets=secrets,
    )
    assert stats["sent"] == 1
    blocks = fake.requests[0].json()["blocks"]
    assert blocks[0]["text"]["text"].endswith("… (truncated)")
    assert len(blocks[0]["text"]["text"]) == 150
    evidence = [b for b in blocks if b["type"] == "section" and "```" in b["text"]["text"]]
    assert evidence and "… (truncated)" in evidence[0]["text"]["text"]


def test_telemetry_text_cannot_mention_the_channel(service, tmp_path) -> None:
    fake, config, secrets = webhook_setup(service, tmp_path)
    incident = make_incident(title="<!channel> look", group={"user": "<@U123>"})
    deliver_all(
        config,
        tmp_path,
        [make_notification(receiver="slack", incidents=[incident])],
        secrets=secrets,
    )
    message = fake.requests[0].json()
    parsed_texts = [message["text"], *mrkdwn_texts(message["blocks"])]  # plain_text is not parsed
    assert not [t for t in parsed_texts if "<!channel>" in t or "<@U123>" in t]
    assert any("&lt;!channel&gt;" in t for t in parsed_texts)


def mrkdwn_texts(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["text"]] if node.get("type") == "mrkdwn" else []
        return found + [t for v in node.values() for t in mrkdwn_texts(v)]
    if isinstance(node, list):
        return [t for v in node for t in mrkdwn_texts(v)]
    return []


def test_messages_to_one_channel_are_paced(service, tmp_path) -> None:
    fake, config, secrets = webhook_setup(service, tmp_path)
    config = fast_config([config.receivers[0].model_copy(update={"min_interval_seconds": 0.3})])
    notifications = [make_notification(key=f"k{i}", receiver="slack") for i in range(3)]
    deliver_all(config, tmp_path, notifications, secrets=secrets)
    times = [r.at for r in fake.requests]
    assert len(times) == 3
    # arrival times at the server: allow for scheduling jitter on a loaded machine, which can
    # delay the recording of one request but not bring a paced sender under a third of its gap
    assert all(later - earlier >= 0.2 for earlier, later in itertools.pairwise(times))


def bot_setup(tmp_path):
    api = SlackWebApi(token="xoxb-test-token-123")
    slack = SlackReceiverConfig(
        name="slack",
        bot_token={"env": "SLACK_BOT_TOKEN"},
        channel="#alerts",
        api_base_url=api.base_url,
        min_interval_seconds=0,
    )
    return api, fast_config([slack]), SecretResolver({"SLACK_BOT_TOKEN": api.token})


def test_bot_posts_then_updates_the_same_message_and_replies_in_thread_across_a_restart(
    tmp_path,
) -> None:
    api, config, secrets = bot_setup(tmp_path)
    try:
        opened = make_notification(key="g:opened", receiver="slack")
        deliver_all(config, tmp_path, [opened], secrets=secrets)
        acked = make_notification(
            key="g:acked",
            receiver="slack",
            transition="incident.acknowledged",
            incidents=[make_incident(status="acknowledged")],
        )
        deliver_all(config, tmp_path, [acked], secrets=secrets)  # a new process, same state dir
        post, update, reply = api.service.requests
        assert post.path == "/api/chat.postMessage" and post.json()["channel"] == "#alerts"
        assert update.path == "/api/chat.update"
        assert update.json()["ts"] == "1700000000.000001"
        assert update.json()["channel"] == "C0SPAN"
        assert reply.path == "/api/chat.postMessage"
        assert reply.json()["thread_ts"] == "1700000000.000001"
        assert "acknowledged" in reply.json()["text"]
        buttons = next(b for b in update.json()["blocks"] if b["type"] == "actions")["elements"]
        assert [b["action_id"] for b in buttons] == [RESOLVE_ACTION]  # already acknowledged
    finally:
        api.service.stop()


def test_bot_with_a_bad_token_is_not_retried(tmp_path) -> None:
    api, config, _ = bot_setup(tmp_path)
    try:
        secrets = SecretResolver({"SLACK_BOT_TOKEN": "xoxb-wrong"})
        stats = deliver_all(
            config, tmp_path, [make_notification(receiver="slack")], secrets=secrets
        )
        assert len(api.service.requests) == 1
        assert stats["dead_lettered"] == 1
        reason = json.loads((tmp_path / "dead-letters.jsonl").read_text())["reason"]
        assert "invalid_auth" in reason and "xoxb-wrong" not in reason
    finally:
        api.service.stop()


def test_bot_honours_ratelimited_answers(tmp_path) -> None:
    api, config, secrets = bot_setup(tmp_path)
    try:
        api.service.script(
            Reply(429, json.dumps({"ok": False, "error": "ratelimited"}), {"Retry-After": "0.2"})
        )
        dispatcher = Dispatcher(config, tmp_path, secrets=secrets)
        dispatcher.start()
        dispatcher.submit(make_notification(receiver="slack"))
        dispatcher.close(timeout=PATIENCE)
        first, second = api.service.requests
        assert second.at - first.at >= 0.2
        assert dispatcher.stats["sent"] == 1 and dispatcher.stats["rate_limited"] == 1
    finally:
        api.service.stop()


label = st.text(st.characters(codec="utf-8"), max_size=300)


@settings(max_examples=40, deadline=None)
@given(
    titles=st.lists(label, min_size=0, max_size=12),
    labels=st.dictionaries(st.text(max_size=20), label, max_size=15),
    evidence=st.dictionaries(st.text(max_size=20), st.text(max_size=4000), max_size=5),
)
def test_any_notification_fits_slack_limits(titles, labels, evidence) -> None:
    incidents = [
        make_incident(i, title=t, group=labels, evidence=evidence) for i, t in enumerate(titles)
    ]
    notification = Notification(
        key="k",
        receiver="slack",
        status="firing",
        transition="incident.updated",
        at="2026-11-28T03:04:05Z",
        group_labels=labels,
        incidents=incidents,
    )
    assert block_kit_problems(build_message(notification)) == []
