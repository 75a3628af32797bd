"""The compliance drift detector in the engine: a team's adherence against its own past.

Driven through `spanwatch replay` on eight weeks of three teams: `platform` drops in its sixth
week and recovers, `web` is steady and `data-sci` is too small for any verdict. The statistics
are pinned on their own below: counts corrected for clustering, and verdicts that depend on
neither the order of events within a day nor how the watermark advances.
"""

from __future__ import annotations

import datetime as dt
import itertools
import pickle
import random
import re
import subprocess
import sys

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.live_drift import DAY, AdherenceDrift, LiveDriftParams
from engine.config import SpanwatchConfig
from engine.flow.run_setup import RunSetup
from tests.compliance.history import START, write_history

DROP_WEEK = 5
DROP = START + dt.timedelta(weeks=DROP_WEEK)


def spanwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def drift_log(tmp_path_factory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("drift")
    history = tmp / "history.jsonl"
    write_history(history, seed=11, weeks=8, bad_weeks=(DROP_WEEK,), steady=30)
    config = tmp / "spanwatch.yml"
    config.write_text("detectors: []\n")  # the drift detector needs none of the others
    log = tmp / "incidents.jsonl"
    done = spanwatch("replay", str(history), "--config", str(config), "--out", str(log))
    assert done.returncode == 0, done.stderr
    lines = [orjson.loads(x) for x in log.read_bytes().splitlines()]
    return [x for x in lines if x["incident"]["rule_id"] == "compliance-drift"]


def at(line: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(line["at"].replace("Z", "+00:00"))


def test_a_teams_drop_opens_one_incident_with_its_numbers_within_days(drift_log):
    opened = [x for x in drift_log if x["type"] == "incident.opened"]
    assert [x["incident"]["group"] for x in opened] == [{"team": "platform"}]
    assert DROP < at(opened[0]) <= DROP + dt.timedelta(days=5)
    data = opened[0]["incident"]["evidence"]["samples"][0]["data"]
    message = re.fullmatch(
        r"policy adherence (\d+)% for team=platform over the last 7 days, baseline (\d+)% "
        r"\(any rule\)",
        data["message"],
    )
    assert message is not None
    now, base = int(message[1]), int(message[2])
    assert base >= 92 and now <= base - 5
    assert data["p_value"] < 0.001 and data["dispersion"] >= 1.0
    assert set(data["drifting"]) == {"any", "security"}  # the pipe-to-shell rule's category


def test_it_resolves_once_adherence_recovers(drift_log):
    resolved = [x for x in drift_log if x["type"] == "incident.resolved"]
    assert len(resolved) == 1
    back = DROP + dt.timedelta(weeks=1)
    assert back < at(resolved[0]) <= back + dt.timedelta(days=9)


def test_steady_and_small_teams_stay_quiet(drift_log):
    assert {x["incident"]["group"]["team"] for x in drift_log} == {"platform"}


def test_it_can_be_turned_off():
    on = RunSetup(SpanwatchConfig())
    off = RunSetup(SpanwatchConfig.model_validate({"compliance": {"drift": {"enabled": False}}}))
    event = {"time": 1e9, "session": "s1", "team": "web", "name": "shell.run"}
    assert any(o.detector_id == "compliance-drift" for _, o in on.match(event)[1])
    assert not any(o.detector_id == "compliance-drift" for _, o in off.match(event)[1])


def test_a_shard_restored_from_before_the_detector_existed_takes_it_up():
    setup = RunSetup(SpanwatchConfig())
    shard = setup.det_shard["compliance-drift"]
    state = setup.new_shard_state(shard)
    del state.detectors["compliance-drift"]  # as a snapshot of an older version holds it
    state = pickle.loads(pickle.dumps(state))
    event = {"time": 1e9, "session": "s1", "team": "web", "name": "shell.run"}
    items = [o for dest, o in setup.match(event)[1] if dest == shard]
    state.sync(setup, shard)
    state.apply(items, 1e9, setup.quarantine)
    assert state.detectors["compliance-drift"].stats["observations"] == 1
    assert setup.quarantine.total == 0


def test_a_misspelt_setting_is_one_line_with_file_and_line(tmp_path):
    config = tmp_path / "spanwatch.yml"
    config.write_text("compliance:\n  drift:\n    windw_days: 7\n")
    done = spanwatch("replay", str(tmp_path / "none.jsonl"), "--config", str(config))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{config}:3" in done.stderr and "windw_days" in done.stderr


class Obs:
    def __init__(self, t: float, team: str, session: str, cats: tuple[str, ...]) -> None:
        self.time, self.group, self.value, self.values = t, (team,), session, cats


def days_of(hits_per_day: list[int], sessions: int, start_day: int = 0) -> list[Obs]:
    out = []
    for k, hits in enumerate(hits_per_day):
        day = start_day + k
        for i in range(sessions):
            cats = ("security",) if i < hits else ()
            out.append(Obs(day * DAY + 3600 + i, "t", f"{day}-{i}", cats))
    return out


def signals_of(observations: list[Obs], until: float) -> list[tuple]:
    d = AdherenceDrift(LiveDriftParams())
    for o in observations:
        d.update(o)
    return [(s.time, s.firing, s.evidence.get("dispersion")) for s in d.advance(until)]


def test_clustered_baseline_days_need_a_bigger_drop_than_independent_sessions():
    """The same baseline share (10%), once spread evenly, once in bursts (a person's habit on
    some days): a week at 20% is news against the first, within the scatter of the second."""
    week = [8] * 7
    even = days_of([4] * 28 + week, 40)
    bursty = days_of([0, 8] * 14 + week, 40)
    assert any(firing for _, firing, _ in signals_of(even, 35 * DAY))
    found = signals_of(bursty, 35 * DAY)
    assert not any(firing for _, firing, _ in found)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    cuts=st.lists(st.floats(0, 40 * DAY), max_size=6),
    size=st.integers(5, 60),
    drop_day=st.integers(20, 38),
)
def test_verdicts_depend_on_neither_order_within_a_day_nor_how_the_watermark_moves(
    seed, cuts, size, drop_day
):
    rng = random.Random(seed)
    events = []
    for day in range(40):
        share = 0.3 if day >= drop_day else 0.04
        for i in range(rng.randrange(size)):
            cats = ("security",) if rng.random() < share else ()
            t = day * DAY + rng.random() * DAY
            events.append(Obs(t, rng.choice(["a", "b"]), f"{day}-{i}-{rng.randrange(3)}", cats))
    whole = AdherenceDrift(LiveDriftParams())
    for e in events:
        whole.update(e)
    expected = [(s.time, s.group, s.firing, s.evidence) for s in whole.advance(41 * DAY)]

    stepped = AdherenceDrift(LiveDriftParams())
    by_day: dict[int, list[Obs]] = {}
    for e in events:
        by_day.setdefault(int(e.time // DAY), []).append(e)
    got = []
    marks = sorted(cuts)
    for day in sorted(by_day):
        batch = by_day[day]
        rng.shuffle(batch)
        for e in batch:
            stepped.update(e)
        while marks and marks[0] <= day * DAY:  # a watermark never passes an unread day
            got += stepped.advance(marks.pop(0))
    got += stepped.advance(41 * DAY)
    assert [(s.time, s.group, s.firing, s.evidence) for s in got] == expected
    # one incident per team at a time: firing and resolved alternate
    for team in ("a", "b"):
        states = [s.firing for s in got if s.group["team"] == team]
        assert all(not (a is False and b is False) for a, b in itertools.pairwise(states))
        assert not states or states[0] is True
