"""Repeat suppression in a detector's alerts: a repeat opens no new alert, but a problem that
lasts keeps the alert it opened, as `for` and `keep_firing_for` say, with or without it."""

from __future__ import annotations

import random

import pytest

from detectors import DetectorsConfig, DetectorSet, Signal

START = 1794700800.0  # a Sunday, 00:00 UTC
MINUTE = 60.0


def detector(kind: str, repeat: int, for_: int) -> DetectorSet:
    params = {"direction": "up", "repeat": repeat}
    if kind == "changepoint":
        params["threshold"] = 10
    spec = {
        "id": "spend",
        "kind": kind,
        "aggregation": "sum",
        "field": "cost",
        "group_by": ["team"],
        "interval": "5m",
        "warmup": "6h",
        "for": for_,
        "keep_firing_for": 2,
        "params": params,
    }
    return DetectorSet.from_config(DetectorsConfig.model_validate({"detectors": [spec]}))


def spend(seed: int, hours: float, surge: tuple[float, float], factor: float) -> list[dict]:
    """A call a minute of a team, its cost noisy around 1, `factor` times that in `surge`."""
    rng, events = random.Random(seed), []
    for i in range(int(hours * 60)):
        t = START + i * MINUTE
        cost = max(0.0, rng.gauss(1.0, 0.15))
        if surge[0] <= t < surge[1]:
            cost *= factor
        events.append({"time": t, "name": "call", "team": "payments", "cost": cost})
    return events


def signals(ds: DetectorSet, events: list[dict]) -> list[Signal]:
    state = ds.new_state("spend")
    out: list[Signal] = []
    for ev in events:
        for obs in ds.route(ev):
            out += state.update(obs)
        out += state.advance(ev["time"] - 60)
    return out + state.advance(events[-1]["time"] + 3600)


def transitions(out: list[Signal]) -> list[tuple[bool, float]]:
    """(opened or resolved, at) of each change of the team's alert."""
    changes, firing = [], False
    for s in out:
        if s.firing != firing:
            changes.append((s.firing, s.time))
            firing = s.firing
    return changes


# a change point starts again at a change: it alerts on one window, so `for` is 1
@pytest.mark.parametrize(
    ("kind", "for_"),
    [("seasonal", 1), ("seasonal", 2), ("ewma", 1), ("ewma", 2), ("changepoint", 1)],
)
@pytest.mark.parametrize("factor", [10.0, 1000.0])  # a thousand times: a score of exactly 1
def test_a_lasting_surge_opens_and_resolves_as_without_repeat_suppression(kind, for_, factor):
    surge = (START + 30 * 3600.0, START + 32 * 3600.0)
    events = spend(7, 36, surge, factor)
    plain = transitions(signals(detector(kind, 0, for_), events))
    kept = transitions(signals(detector(kind, 20, for_), events))
    assert plain and plain[0][0] and surge[0] <= plain[0][1] <= surge[0] + 3600.0
    assert kept == plain
