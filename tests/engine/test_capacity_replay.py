"""Capacity alerts as a user meets them: `spanwatch replay` of simulated history plus a Sydney
team whose calls to one model climb towards the account's quota in their region."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from detectors.timeparse import parse_time
from replay.simulator.simulate import SimulationSpec, simulate
from tests.engine.capacity_history import MODEL, REGION, Climb, expected_rate, write_history

PEAK = 6.0  # requests per minute at a normal midday
RPM, TPM = 30.0, 100_000.0  # the account's quotas there (80%: 24 requests, 80k tokens)
TOKENS_PER_CALL = 3000.0 + 5.0 * 400.0  # mean input + output weighed by Claude 4's burndown
CLIMB = Climb(
    parse_time("2026-11-10T23:00:00Z"), 3 * 3600.0, parse_time("2026-11-11T03:00:00Z"), 5.0
)
CONFIG = f"""\
capacity:
  quotas:
    # any spelling of the model names it; the region is the account's
    - model: apac.anthropic.claude-sonnet-4-20250514-v1:0
      region: {REGION}
      requests_per_minute: {int(RPM)}
      tokens_per_minute: {int(TPM)}
"""


def spanwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, timeout=300
    )


def first_time(rate_at_least: float) -> float:
    """When the planted expected request rate first reaches `rate_at_least` per minute."""
    t = CLIMB.start
    while expected_rate(t, PEAK, CLIMB) < rate_at_least and t < CLIMB.end:
        t += 60.0
    return t


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> tuple[list[dict], str]:
    tmp = tmp_path_factory.mktemp("capacity")
    simulate(SimulationSpec(days=9, users=12, seed=4, incidents=False), tmp / "offices.jsonl")
    write_history(
        tmp / "sydney.jsonl",
        parse_time("2026-11-01T20:00:00Z"),
        parse_time("2026-11-11T07:00:00Z"),
        CLIMB,
        peak=PEAK,
    )
    (tmp / "spanwatch.yml").write_text(CONFIG)
    log = tmp / "incidents.jsonl"
    done = spanwatch(
        "replay", str(tmp / "offices.jsonl"), str(tmp / "sydney.jsonl"),
        "--config", str(tmp / "spanwatch.yml"), "--out", str(log),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [orjson.loads(x) for x in log.read_bytes().splitlines()]
    return [x for x in lines if x["incident"]["rule_id"].startswith("capacity-")], done.stderr


def test_the_climb_opens_both_quota_incidents_before_the_quota_is_reached(replayed):
    lines, _ = replayed
    opened = [x for x in lines if x["type"] == "incident.opened"]
    assert {x["incident"]["rule_id"] for x in opened} == {
        "capacity-tokens-per-model-region",
        "capacity-requests-per-model-region",
    }
    # only the climbing model and region, only after the climb began (the office traffic of
    # the other sites, and the Sydney team's ordinary days after the week of warm-up, raise
    # nothing)
    assert all(x["incident"]["group"] == {"model": MODEL, "region": REGION} for x in opened)
    assert all(parse_time(x["at"]) > CLIMB.start for x in opened)
    first = {}
    for x in opened:
        first.setdefault(x["incident"]["rule_id"], x)
    requests = first["capacity-requests-per-model-region"]
    tokens = first["capacity-tokens-per-model-region"]
    # ahead of throttling: each opens before the usage reaches the quota itself
    assert parse_time(requests["at"]) < first_time(RPM)
    assert parse_time(tokens["at"]) < first_time(TPM / TOKENS_PER_CALL)


def test_the_incident_shows_the_quota_its_source_and_the_projection(replayed):
    lines, _ = replayed
    opened = {x["incident"]["rule_id"]: x["incident"] for x in reversed(lines)}
    tokens = opened["capacity-tokens-per-model-region"]["evidence"]["samples"][0]["data"]
    assert tokens["quota"] == "tokens per minute" and tokens["limit"] == TPM
    assert tokens["quota_source"] == f"configured: {MODEL} in {REGION}"
    assert tokens["output_burndown"] == 5.0  # Claude 4: five quota tokens per output token
    assert tokens["projected_peak"] >= 0.8 * TPM and tokens["projected_share"] >= 0.8
    assert parse_time(tokens["crosses_alert_share_at"]) <= parse_time(tokens["window_end"]) + 3600
    requests = opened["capacity-requests-per-model-region"]["evidence"]["samples"][0]["data"]
    assert requests["limit"] == RPM and "output_burndown" not in requests


def test_the_incidents_resolve_when_the_projection_falls_back(replayed):
    lines, _ = replayed
    final = {}
    for x in lines:
        final[x["incident"]["id"]] = x
    assert final and all(x["incident"]["status"] == "resolved" for x in final.values())
    last = max(parse_time(x["at"]) for x in final.values())
    assert CLIMB.end < last < CLIMB.end + 2 * 3600
