"""Any small spec (odd start times, tiny organisations, weekends) gives valid, complete history.

Long ranges also keep the incidents that only a learned baseline can reveal out of their first
two days, so that online detectors are not asked to find them during their warm-up.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from replay.simulator.population import build_organisation
from replay.simulator.simulate import SimulationSpec, simulate
from tests.replay.otlp_view import events, parse_line
from tests.replay.patterns import CREDENTIALS, OPUS, is_dangerous
from tests.replay.simulator.test_simulate_incidents import KINDS, NEEDS_BASELINE

DAY = 86400
# Any minute between a Monday in 2026 and the Sunday after.
any_start = st.integers(0, 7 * 24 * 60 - 1).map(lambda m: 1793577600.0 + 60 * m)
specs = st.builds(
    SimulationSpec,
    days=st.integers(1, 2),
    users=st.integers(1, 9),
    seed=st.integers(0, 2**31),
    start=any_start,
    claude_code_logs=st.booleans(),
)
long_specs = st.builds(
    SimulationSpec,
    days=st.integers(4, 7),
    users=st.integers(1, 9),
    seed=st.integers(0, 2**31),
    start=any_start,
)


def seconds(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def silent_hours(offset_h: int, lo: float, hi: float) -> list[tuple[float, float]]:
    """The parts of [lo, hi) a team can go silent in: 10:00 to 16:00 local on weekdays."""
    found = []
    for day in range(int(lo // 86400) - 1, int(hi // 86400) + 2):
        if (day + 3) % 7 < 5:
            a = max(lo, day * 86400 - offset_h * 3600 + 10 * 3600)
            b = min(hi, day * 86400 - offset_h * 3600 + 16 * 3600)
            if a < b:
                found.append((a, b))
    return found


def room_for_a_silence(spec: SimulationSpec) -> bool:
    """Whether some team has three hours (and a minute, for whole-minute starts) of them."""
    end = spec.start + spec.days * 86400
    teams = build_organisation(spec.seed, spec.users).teams
    return any(
        b - a >= 3 * 3600 + 60
        for team in teams
        for a, b in silent_hours(team.utc_offset_h, spec.start, end)
    )


def simulated(spec: SimulationSpec, *, official: bool = True) -> list[dict]:
    """Simulate `spec`, check the history is complete and every truth in it; return the truths.

    `official`: also parse every line with the official OTLP classes (slow on long ranges).
    """
    with tempfile.TemporaryDirectory() as tmp:
        out, truth = Path(tmp) / "h.jsonl", Path(tmp) / "t.jsonl"
        summary = simulate(spec, out, truth)
        if official:
            for line in out.read_bytes().splitlines():
                parse_line(line)
        history = list(events(out))
        truths = [orjson.loads(line) for line in truth.read_bytes().splitlines()]
    end = spec.start + spec.days * 86400
    assert len(history) == summary.spans + summary.log_records
    # Spans start in the range; a log record may follow at the end of the activity it reports.
    assert all(spec.start <= e["time"] < end for e in history if e["kind"] == "span")
    assert all(spec.start <= e["time"] < end + 600 for e in history if e["kind"] == "log")
    # Every kind, but a team cannot go silent in a range without its working hours.
    kinds = {t["kind"] for t in truths}
    assert KINDS - {"team_silent"} <= kinds <= KINDS
    assert "team_silent" in kinds or not room_for_a_silence(spec)
    teams = {t.name: t for t in build_organisation(spec.seed, spec.users).teams}
    calls = [e for e in history if e["name"] == "claude.invoke"]
    for t in truths:
        lo, hi = seconds(t["start"]), seconds(t["end"])
        assert spec.start <= lo <= hi <= end
        # Every incident listed is in the data, within its window.
        group = t["group"]
        if t["kind"] == "team_silent":
            team = teams[group["team"]]
            assert any(
                a <= lo and hi <= b for a, b in silent_hours(team.utc_offset_h, spec.start, end)
            )
            assert not [e for e in history if e["team"] == team.name and lo <= e["time"] < hi]
        if t["kind"] == "token_burn_drift":
            late = [e for e in calls if e["team"] == group["team"] and (lo + hi) / 2 <= e["time"]]
            assert [e for e in late if e["time"] <= hi]
        if t["kind"] == "latency_degradation":
            slow = [
                e for e in calls if (e["model"], e["region"]) == (group["model"], group["region"])
            ]
            assert [e for e in slow if lo <= e["time"] <= hi and e["status"] == "ok"]
        user = group.get("user")
        # An event at the very start of a window may read a last bit earlier (nanoseconds / 1e9).
        mine = [e for e in history if e.get("user") == user and lo - 1e-6 <= e["time"] <= hi + 1e-6]
        commands = [e["command"] for e in mine if e["name"] == "shell.run"]
        if t["kind"] == "cost_spike":
            # A runaway loop: hundreds of calls in its hour, whoever the user is.
            assert sum(e["name"] == "claude.invoke" and e["model"] == OPUS for e in mine) >= 300
        if t["kind"] == "error_burst":
            assert sum(e["name"] == "claude.invoke" and e["status"] == "error" for e in mine) >= 3
        if t["kind"] == "many_repos":
            assert len({e["repo"] for e in mine}) >= 15
        if t["kind"] == "dangerous_command":
            assert any(is_dangerous(c) for c in commands)
        if t["kind"] == "credential_in_command":
            assert any(CREDENTIALS.search(c) for c in commands)
        if t["kind"] == "pr_without_passing_assertions":
            assert any(e["name"] == "pr.create" for e in mine)
        if t["kind"] == "forbidden_model":
            assert sum(e.get("model") == t["details"]["model"] for e in mine) >= 3
        if t["kind"] == "disallowed_region":
            assert sum(e.get("region") == t["details"]["region"] for e in mine) >= 3
    return truths


@settings(max_examples=12, deadline=None)
@given(spec=specs)
def test_any_small_spec_gives_parseable_complete_history(spec: SimulationSpec) -> None:
    simulated(spec)


def whole_weekdays(lo: float, hi: float) -> list[int]:
    """UTC days inside [lo, hi) from midnight to midnight that are Monday to Friday."""
    return [d for d in range(int(-(-lo // DAY)), int(hi // DAY)) if (d + 3) % 7 < 5]


@settings(max_examples=8, deadline=None)
@given(spec=long_specs)
def test_a_long_range_keeps_baseline_incidents_out_of_the_first_two_days(
    spec: SimulationSpec,
) -> None:
    truths = simulated(spec, official=False)
    end = spec.start + spec.days * DAY
    if len(whole_weekdays(spec.start + 2 * DAY, end)) < 2:
        return  # no room after two days: placed as in a short range, complete all the same
    learned = [t for t in truths if t["kind"] in NEEDS_BASELINE]
    assert {t["kind"] for t in learned} >= NEEDS_BASELINE - {"team_silent"}
    for t in learned:
        assert seconds(t["start"]) >= spec.start + 2 * DAY, t
