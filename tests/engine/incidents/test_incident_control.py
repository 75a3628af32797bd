import pytest

from engine.incidents.control import (
    Ack,
    ControlError,
    CreateSilence,
    ExpireSilence,
    Resolve,
    parse_control,
)
from engine.incidents.matchers import Matcher
from engine.timeutil import parse_time


def test_ack_and_resolve_take_an_incident_reference_and_a_time_in_either_form():
    ack = parse_control(
        {"type": "ack", "at": "2026-11-28T03:04:05Z", "incident": "abc-1", "by": "dana"}
    )
    assert ack == Ack(parse_time("2026-11-28T03:04:05Z"), "abc-1", "dana", "")
    resolve = parse_control({"type": "resolve", "at": 1700000000, "incident": "abc-1"})
    assert resolve == Resolve(1700000000.0, "abc-1")


def test_a_silence_parses_its_matchers_and_defaults_its_start_to_now():
    event = parse_control(
        {
            "type": "silence",
            "at": 100,
            "id": "s1",
            "matchers": ["team=payments", "user=~ali.*", "severity!=info", "rule_id!~x.*"],
            "ends_at": 200,
            "created_by": "dana",
            "comment": "deploy",
        }
    )
    assert isinstance(event, CreateSilence)
    assert event.silence.starts_at == 100
    assert event.silence.matchers[1] == Matcher("user", "=~", "ali.*")
    assert event.silence.created_by == "dana"


def test_a_silence_without_an_id_gets_a_deterministic_one():
    obj = {"type": "silence", "at": 1, "matchers": ["team=a"], "ends_at": 9}
    first, second = parse_control(dict(obj)), parse_control(dict(obj))
    assert first.silence.id == second.silence.id
    assert first.silence.id.startswith("s-")


def test_expire_silence_names_the_silence():
    assert parse_control({"type": "expire_silence", "at": 5, "id": "s1"}) == ExpireSilence(
        5.0, "s1"
    )


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({"type": "snooze", "at": 1}, "unknown control type 'snooze'"),
        ({"type": "ack", "incident": "x"}, "missing at"),
        (
            {"type": "ack", "at": 1, "incident": "x", "by": "d", "note": "?"},
            "unknown field(s) note",
        ),
        ({"type": "ack", "at": "yesterday", "incident": "x"}, "not a time"),
        ({"type": "ack", "at": 1, "incident": ""}, "must not be empty"),
        ({"type": "ack", "at": 1, "incident": 7}, "must be a string"),
        (
            {"type": "silence", "at": 1, "matchers": ["user=~(ali"], "ends_at": 9},
            "silence refused: matchers[0]: invalid regular expression '(ali'",
        ),
        ({"type": "silence", "at": 1, "matchers": [], "ends_at": 9}, "non-empty list"),
        ({"type": "silence", "at": 1, "matchers": ["team=~.*"], "ends_at": 9}, "every incident"),
        ({"type": "silence", "at": 5, "matchers": ["team=a"], "ends_at": 5}, "after starts_at"),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_bad_control_events_are_refused_with_the_reason_and_where(obj, reason):
    with pytest.raises(ControlError) as info:
        parse_control(obj, where="control.jsonl:7")
    assert reason in info.value.reason
    assert str(info.value).startswith("control.jsonl:7: ")
