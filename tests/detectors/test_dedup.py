"""One call, one count: calls that arrive as a span, as a Claude Code log event, or as both."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.config import DetectorsConfig
from detectors.detectorset import DetectorSet
from tests.detectors.reference_routing import route_each

CALLS = ["claude.invoke", "claude_code.api_request", "claude_code.api_error"]
BASE = 1_800_000_000.0  # a whole minute


def detectors(**changes) -> DetectorSet:
    spec = {
        "id": "calls",
        "kind": "ewma",
        "interval": "1m",
        "warmup": 0,
        "aggregation": "count",
        "filter": {"name": CALLS},
        "group_by": ["team"],
        "params": {"direction": "up"},
        "dedup": {"by": "session", "prefer": {"name": "claude.invoke"}},
        **changes,
    }
    return DetectorSet.from_config(DetectorsConfig.model_validate({"detectors": [spec]}))


def calls(seed: int) -> list[tuple[float, str]]:
    """(time, session) of every call: 4 a minute for an hour, then 40 a minute for 3 minutes."""
    rng = random.Random(seed)
    out = []
    for minute in range(63):
        for _ in range(40 if minute >= 60 else 4):
            out.append((BASE + minute * 60 + rng.uniform(0, 59.9), f"s{rng.randrange(12)}"))
    return sorted(out)


def exported(call_list, how: str, rng: random.Random) -> list[dict]:
    """The events an organisation exports for these calls: spans, logs, both, or a mix."""
    events = []
    for t, session in call_list:
        span = {"time": t, "name": "claude.invoke", "session": session, "team": "payments"}
        log = {**span, "name": "claude_code.api_request", "time": t + rng.uniform(0, 0.05)}
        mode = how if how != "mixed" else ("both" if int(session[1:]) % 2 else "logs")
        if mode in ("spans", "both"):
            events.append(span)
        if mode in ("logs", "both"):
            events.append(log)
    return events


def values(detector_set: DetectorSet, events: list[dict]) -> list[float]:
    """The window values the detector alerts on, in order."""
    state = detector_set.new_state("calls")
    signals = []
    events = sorted(events, key=lambda e: e["time"])
    minute = BASE + 60
    for event in events:
        while event["time"] >= minute:
            signals += state.advance(minute)
            minute += 60
        for obs in detector_set.route(event):
            signals += state.update(obs)
    signals += state.advance(minute + 120)
    return [s.evidence["value"] for s in signals if s.firing]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_spans_logs_both_and_a_mix_count_each_call_once(seed):
    truth = calls(seed)
    rng = random.Random(seed)
    results = {how: values(detectors(), exported(truth, how, rng)) for how in
               ("spans", "logs", "both", "mixed")}  # fmt: skip
    assert results["spans"] and results["spans"][0] == 40.0
    assert results["logs"] == results["both"] == results["mixed"] == results["spans"]


def test_without_dedup_both_kinds_count_twice():
    truth = calls(1)
    both = exported(truth, "both", random.Random(1))
    plain = detectors(dedup=None)
    assert values(plain, both)[0] == 80.0


def test_a_call_whose_span_and_log_straddle_a_window_edge_counts_once():
    d = detectors()
    state = d.new_state("calls")
    span = {"time": BASE + 59.99, "name": "claude.invoke", "session": "s1", "team": "t"}
    log = {**span, "time": BASE + 60.01, "name": "claude_code.api_request"}
    for event in (span, log):
        for obs in d.route(event):
            state.update(obs)
    state.advance(BASE + 180)
    assert state.stats["duplicates"] == 1


def test_regions_missing_from_log_events_take_the_label_default():
    d = detectors(group_by=["model", "region"], label_defaults={"region": "unknown"})
    log = {"time": BASE, "name": "claude_code.api_request", "session": "s", "model": "m"}
    [obs] = d.route(log)
    assert obs.group == ("m", "unknown")
    assert detectors(group_by=["model", "region"]).route(log) == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 600), st.integers(0, 5), st.sampled_from(["spans", "logs", "both"])),
        max_size=80,
    )
)
def test_route_plan_and_reference_routes_agree_with_dedup(rows):
    d = detectors(group_by=["team", "region"], label_defaults={"region": "-"})
    for t, session, how in rows:
        for event in exported([(BASE + t, f"s{session}")], how, random.Random(session)):
            assert d.route(event) == route_each(d, event)
