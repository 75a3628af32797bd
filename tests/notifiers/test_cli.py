"""`spanwatch notify retry-dead-letters`: re-send, keep what still fails, never send twice."""

from __future__ import annotations

import io
import json

from notifiers.cli import retry_dead_letters
from notifiers.config import SlackReceiverConfig, WebhookReceiverConfig
from notifiers.secret_refs import SecretResolver
from tests.notifiers.conftest import deliver_all, fast_config, make_notification
from tests.notifiers.fakes import Reply


def test_dead_letters_are_resent_once_the_receiver_is_back(service, tmp_path) -> None:
    fake = service(lambda _r: Reply(400, "rejected"))
    config = fast_config([WebhookReceiverConfig(name="hook", url=fake.url + "/in")])
    notifications = [make_notification(key=f"k{i}", receiver="hook") for i in range(2)]
    assert deliver_all(config, tmp_path, notifications)["dead_lettered"] == 2

    fake.script(Reply(200, "ok"), Reply(200, "ok"))
    out = io.StringIO()
    assert retry_dead_letters(config, tmp_path, out) == 0
    assert "re-sent 2, already delivered 0, still dead 0" in out.getvalue()
    assert [r.json()["key"] for r in fake.requests[2:]] == ["k0", "k1"]
    assert not (tmp_path / "dead-letters.jsonl").exists()

    # the engine re-emitting them after a restart is now a duplicate
    stats = deliver_all(config, tmp_path, notifications)
    assert stats["deduplicated"] == 2 and len(fake.requests) == 4


def test_letters_that_still_fail_are_kept_with_the_new_reason(service, tmp_path) -> None:
    fake = service(lambda _r: Reply(400, "still rejected"))
    config = fast_config([WebhookReceiverConfig(name="hook", url=fake.url + "/in")])
    deliver_all(config, tmp_path, [make_notification(receiver="hook")])
    out = io.StringIO()
    assert retry_dead_letters(config, tmp_path, out) == 1
    (line,) = (tmp_path / "dead-letters.jsonl").read_text().splitlines()
    letter = json.loads(line)
    assert letter["reason"] == "HTTP 400: still rejected" and letter["attempts"] == 2
    assert "still dead 1" in out.getvalue()


def test_unknown_receivers_and_unreadable_lines_are_kept_and_reported(tmp_path) -> None:
    config = fast_config([WebhookReceiverConfig(name="hook", url="http://127.0.0.1:9/in")])
    deliver_all(config, tmp_path, [make_notification(receiver="gone")])
    with open(tmp_path / "dead-letters.jsonl", "a") as handle:
        handle.write("{not json\n")
    out = io.StringIO()
    assert retry_dead_letters(config, tmp_path, out) == 1
    kept = (tmp_path / "dead-letters.jsonl").read_text().splitlines()
    assert len(kept) == 2 and kept[1] == "{not json"
    assert "no receiver 'gone' is configured" in out.getvalue()
    assert "line 2: unreadable" in out.getvalue()


def test_nothing_to_do_is_success(tmp_path) -> None:
    out = io.StringIO()
    assert retry_dead_letters(fast_config([]), tmp_path, out) == 0
    assert "no dead letters" in out.getvalue()


def test_a_receiver_that_cannot_be_set_up_touches_nothing(tmp_path) -> None:
    (tmp_path / "dead-letters.jsonl").write_text('{"receiver":"s"}\n')
    config = fast_config([SlackReceiverConfig(name="s", webhook_url={"env": "MISSING_HOOK"})])
    out = io.StringIO()
    assert retry_dead_letters(config, tmp_path, out, secrets=SecretResolver({})) == 2
    assert "receiver 's': environment variable MISSING_HOOK is not set" in out.getvalue()
    assert (tmp_path / "dead-letters.jsonl").read_text() == '{"receiver":"s"}\n'
