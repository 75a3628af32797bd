"""Turning group notifications into actions, their keys and payloads, and their configuration."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from notifiers.config import NotifiersConfig
from notifiers.registry import build_responder
from notifiers.responders.actions import (
    MAX_PAYLOAD_BYTES,
    STATUS_FOR,
    payload,
    payload_json,
    service_id,
    split,
)
from notifiers.responders.config import TRIGGERS
from notifiers.responders.dry_run import DryRunLog
from tests.notifiers.conftest import make_incident, make_notification

TRANSITIONS = [*TRIGGERS, "incident.updated"]
STATUSES = ["firing", "acknowledged", "resolved"]

incidents = st.lists(
    st.tuples(st.integers(1, 6), st.sampled_from(STATUSES), st.integers(0, 3)),
    max_size=8,
).map(
    lambda rows: [
        make_incident(n, status=status, escalation_level=level) for n, status, level in rows
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    incidents=incidents,
    transition=st.sampled_from(TRANSITIONS),
    wanted=st.sets(st.sampled_from(TRIGGERS), min_size=1).map(tuple),
    dry_run=st.booleans(),
)
def test_actions_are_the_incidents_the_transition_is_about(
    incidents, transition, wanted, dry_run
) -> None:
    notification = make_notification("group-key", "act", transition, incidents)
    actions = split(notification, wanted, dry_run=dry_run)
    if transition not in wanted:
        assert actions == []
        return
    expected = [i for i in incidents if i["status"] == STATUS_FOR[transition]]
    assert [a.incidents for a in actions] == [[i] for i in expected]
    for action, incident in zip(actions, expected, strict=True):
        assert action.receiver == "act" and action.transition == transition
        assert incident["id"] in action.key and action.key.startswith("dry-run:") == dry_run
        assert not action.repeat
    # the same incident in the same state always gets the same key; different ones never share
    by_key = {}
    for action in actions:
        incident = action.incidents[0]
        identity = (incident["id"], incident["escalation_level"])
        if transition != "incident.escalated":
            identity = incident["id"]
        assert by_key.setdefault(action.key, identity) == identity


def test_the_key_does_not_depend_on_the_group_or_its_other_incidents() -> None:
    a, b = make_incident(1), make_incident(2)
    first = split(make_notification("k1", "act", incidents=[a]), ("incident.opened",))
    later = split(make_notification("k2", "act", incidents=[b, a]), ("incident.opened",))
    assert first[0].key == later[1].key == "opened:inc-1"
    assert service_id("act", first[0]) == service_id("act", later[1])
    assert service_id("act", first[0]) != service_id("other", first[0])


@settings(max_examples=50, deadline=None)
@given(
    size=st.integers(0, 600_000),
    char=st.sampled_from(["a", "é", "漢", "\U0001f511"]),
    extra=st.integers(0, 300_000),
)
def test_payloads_stay_under_the_aws_limit(size, char, extra) -> None:
    incident = make_incident(
        evidence={"command": char * size}, title="t" * min(extra, 4000), labels={"x": "y" * extra}
    )
    action = split(make_notification(incidents=[incident], receiver="act"), ("incident.opened",))[0]
    text = payload_json("act", action)
    assert len(text.encode("utf-8")) <= MAX_PAYLOAD_BYTES
    data = json.loads(text)
    assert data["idempotency_key"] == "act/opened:inc-1"
    assert data["incident"]["id"] == "inc-1"
    whole = json.dumps(payload("act", action), ensure_ascii=False).encode("utf-8")
    assert ("truncated" in data) == (len(whole) > MAX_PAYLOAD_BYTES)


def test_a_payload_that_fits_is_the_incident_log_line_with_its_key() -> None:
    action = split(make_notification(receiver="act"), ("incident.opened",))[0]
    data = json.loads(payload_json("act", action))
    assert data["type"] == "incident.opened" and data["at"] == "2026-11-28T03:04:05Z"
    assert data["incident"] == make_incident()
    assert "truncated" not in data


def config(**responder) -> NotifiersConfig:
    return NotifiersConfig.model_validate({"responders": [{"name": "act", **responder}]})


@pytest.mark.parametrize(
    ("responder", "complaint"),
    [
        ({"type": "lambda"}, "function"),
        ({"type": "lambda", "function": "f", "transitions": ["incident.updated"]}, "transitions"),
        ({"type": "lambda", "function": "f", "transitions": []}, "transitions"),
        ({"type": "lambda", "function": "f", "in_doubt": "maybe"}, "in_doubt"),
        ({"type": "stepfunctions", "state_machine_arn": "arn:aws:sns:x"}, "state_machine_arn"),
        ({"type": "sqs", "queue_url": "queue-name"}, "queue_url"),
        ({"type": "eventbridge", "source": "aws.guardduty"}, "reserved"),
        ({"type": "eventbridge", "endpoint_url": "localhost:4566"}, "endpoint_url"),
        ({"type": "pagerduty"}, "type"),
        ({"type": "lambda", "function": "f", "access_key": "AKIA"}, "access_key"),
    ],
)
def test_a_bad_responder_is_refused_naming_the_field(responder, complaint) -> None:
    with pytest.raises(ValidationError, match=complaint):
        config(**responder)


def test_responders_and_receivers_share_one_name_space() -> None:
    with pytest.raises(ValidationError, match="share the name"):
        NotifiersConfig.model_validate(
            {
                "receivers": [{"name": "act", "type": "console"}],
                "responders": [{"name": "act", "type": "lambda", "function": "f"}],
            }
        )


@pytest.mark.parametrize(
    ("responder", "in_doubt"),
    [
        ({"type": "lambda", "function": "f"}, "dead_letter"),
        ({"type": "lambda", "function": "f", "in_doubt": "resend"}, "resend"),
        ({"type": "eventbridge"}, "dead_letter"),
        (
            {"type": "sqs", "queue_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/q"},
            "dead_letter",
        ),
        (
            {"type": "sqs", "queue_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/q.fifo"},
            "resend",
        ),
        (
            {
                "type": "stepfunctions",
                "state_machine_arn": "arn:aws:states:eu-west-1:123456789012:stateMachine:m",
            },
            "resend",
        ),
    ],
)
def test_sends_in_doubt_are_resent_only_where_aws_drops_repeats(
    tmp_path, responder, in_doubt
) -> None:
    parsed = config(dry_run=True, **responder).responders[0]
    built = build_responder(parsed, default_timeout=1.0, dry_run_log=DryRunLog(tmp_path / "d"))
    assert built.in_doubt == in_doubt
    assert built.transitions == ("incident.opened",)


def test_the_region_comes_from_the_target_when_not_configured(tmp_path) -> None:
    log = DryRunLog(tmp_path / "d")
    targets = {
        "lambda": {"function": "arn:aws:lambda:eu-west-1:123456789012:function:f"},
        "sqs": {"queue_url": "https://sqs.ap-south-1.amazonaws.com/123456789012/q"},
        "stepfunctions": {
            "state_machine_arn": "arn:aws:states:us-west-2:123456789012:stateMachine:m"
        },
        "eventbridge": {"event_bus": "arn:aws:events:ca-central-1:123456789012:event-bus/b"},
    }
    regions = {
        kind: build_responder(
            config(type=kind, dry_run=True, **target).responders[0],
            default_timeout=1.0,
            dry_run_log=log,
        ).region
        for kind, target in targets.items()
    }
    assert regions == {
        "lambda": "eu-west-1",
        "sqs": "ap-south-1",
        "stepfunctions": "us-west-2",
        "eventbridge": "ca-central-1",
    }
