"""The leaf packages may not import one another, so a few small helpers exist in copies.
The engine sees them all; this pins the copies to each other so they cannot drift."""

from __future__ import annotations

import math

import pytest

from detectors import json_value as detectors_json
from detectors import timeparse
from engine.otlp import json_value as otlp_json
from engine.otlp.aliases import CANONICAL_KEYS
from notifiers import timefmt as notifier_time
from replay import timefmt as replay_time
from rules import json_value as rules_json
from rules import lint
from rules import timeutil as rules_time

TIMES = [0.0, 1.5, 1.9996, 1_764_316_800.0, 1_764_316_800.123, 4_102_444_799.999]
TEXTS = ["2026-11-28T03:04:05Z", "2026-11-28T03:04:05.250+02:00", "2026-11-28 03:04", "12.5", 7]
DURATIONS = [30, "30s", "5m", "1h", "7d", 0.5]  # compound forms are a detectors extension


def test_the_canonical_keys_are_the_same_everywhere():
    assert frozenset(CANONICAL_KEYS) == lint.CANONICAL_KEYS


@pytest.mark.parametrize("t", TIMES)
def test_every_iso_copy_formats_alike(t):
    expected = replay_time.iso(t)
    assert rules_time.iso(t) == timeparse.iso(t) == notifier_time.iso(t) == expected


@pytest.mark.parametrize("value", TEXTS)
def test_every_parse_time_copy_reads_alike(value):
    expected = replay_time.parse_time(value)
    assert rules_time.parse_time(value) == timeparse.parse_time(value) == expected
    assert not math.isnan(expected)


@pytest.mark.parametrize("value", DURATIONS)
def test_both_duration_parsers_agree(value):
    assert rules_time.parse_duration(value) == timeparse.parse_duration(value)


def test_the_decoded_event_is_one_type_in_every_package():
    """What the decoders hand on is what the rules and the detectors are typed to read."""
    assert otlp_json.JSONValue == rules_json.JSONValue == detectors_json.JSONValue
    assert otlp_json.Event == rules_json.Event == detectors_json.Event
