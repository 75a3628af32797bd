"""Latency of a model-region with a handful of calls per window: the default detector finds a
fourfold slowdown from its median, and the heavy tail of ordinary calls stays quiet."""

from __future__ import annotations

import random

from detectors import DetectorsConfig, DetectorSet, Signal

MONDAY = 1793577600.0  # 2026-11-02T00:00:00Z
HOUR = 3600.0
DETECTOR = "latency-median-per-model-region"


def thin_region_signals(seed: int, slow_from: float | None, factor: float) -> list[Signal]:
    """Three days of 3-8 calls per 15 minutes in one model-region, log-normal latencies with
    a heavy tail; from `slow_from` every call is `factor` times slower."""
    config = DetectorsConfig()
    config.detectors = [d for d in config.detectors if d.id == DETECTOR]
    ds = DetectorSet.from_config(config)
    state = ds.new_state(DETECTOR)
    rng = random.Random(seed)
    signals: list[Signal] = []
    for w in range(3 * 96):
        start = MONDAY + w * 900.0
        for _ in range(rng.randint(3, 8)):
            t = start + rng.uniform(0, 899)
            ms = rng.lognormvariate(8.0, 0.8)  # median ~3 s, a tail to tens of seconds
            if slow_from is not None and t >= slow_from:
                ms *= factor
            ev = {
                "time": t, "name": "claude_code.api_request", "status": "ok", "latency_ms": ms,
                "model": "anthropic.claude-haiku-4-5", "region": "ap-south-1", "user": "u",
            }  # fmt: skip
            for obs in ds.route(ev):
                signals += state.update(obs)
        signals += state.advance(start + 900.0)
    return [s for s in signals if s.firing]


def test_a_fourfold_slowdown_in_a_thin_model_region_is_found():
    slow_from = MONDAY + 2 * 86400 + 14 * HOUR
    for seed in (1, 2, 3):
        fired = thin_region_signals(seed, slow_from, 4.0)
        assert fired, f"seed {seed}: missed"
        assert all(s.time >= slow_from for s in fired), f"seed {seed}: fired before"
        assert fired[0].time <= slow_from + 2 * HOUR


def test_heavy_tailed_calls_of_a_thin_model_region_raise_nothing():
    for seed in (4, 5, 6, 7):
        assert thin_region_signals(seed, None, 1.0) == []
