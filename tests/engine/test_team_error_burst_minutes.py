"""A team's error burst pages as critical within five minutes of its start, wherever in a
window it starts, a thin team's too; a team whose calls fail often as a matter of course does
not page.

The organisation is unlike the simulator's: five and a half hours east of UTC, so its
minutes and hours are not UTC's on the half hour; a busy team of eight people (a dozen calls
a minute), two thin teams of three (two calls a minute between them), a calm team that never
bursts and one whose calls fail 4% of the time every day. The busy team's burst starts 100
seconds into a two-minute window (20 seconds of it in that window); the thin teams', 80
seconds into one and one second into one. In each, about 40% of the team's calls fail, across
its people, for twenty minutes. A thin team's first five minutes hold about ten calls and
three or four failures: against its 1% rate, too few for the tail probability of the count
(z 4.6 at best of the 4.5 asked), enough for the likelihood ratio of an outage (ten nats and
more of the eight asked).

Replayed as a user would, with the default entries of the team's error detectors as a
configuration file gives them (a `detectors:` list replaces the default set); and fed to the
detector's state directly, with a snapshot taken and restored while the burst's evidence is
still gathering.
"""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import orjson
import pytest
import yaml

from detectors import DetectorsConfig, DetectorSet, Signal
from engine.timeutil import parse_time
from tests.replay_cli import replay_opened_at

DEFAULTS = Path(__file__).resolve().parents[2] / "detectors" / "defaults.yml"
TEAM_DETECTORS = ("error-rate-per-team", "slices-error-rate")
MONDAY = parse_time("2025-06-02T00:00:00Z")
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
OFFSET = 5.5  # hours east of UTC
# people, seconds between a person's calls, the share of calls failing on an ordinary day
TEAMS = {
    "ledger": (8, (20.0, 60.0), 0.01), "atlas": (3, (60.0, 120.0), 0.01),
    "kiln": (3, (60.0, 120.0), 0.01), "quay": (4, (30.0, 120.0), 0.01),
    "tarn": (4, (30.0, 120.0), 0.04),
}  # fmt: skip
BURSTS = {
    "ledger": (1, 11 + 7 / 60 + 40 / 3600),
    "atlas": (1, 15 + 43 / 60 + 20 / 3600),
    "kiln": (1, 11 + 26 / 60 + 1 / 3600),  # 05:56:01 UTC: a second into a window
}
LENGTH = 20 * MINUTE
PAGE_WITHIN = 5 * MINUTE


def at(day: int, hour: float) -> float:
    return MONDAY + day * DAY + (hour - OFFSET) * HOUR


def burst_start(team: str) -> float:
    return at(*BURSTS[team])


def events(seed: int) -> list[dict]:
    """Two working days of every team's calls. In a burst, the team's calls fail two in every
    five in the order they are made, whoever makes them: 40% of them, as a draw would on
    average, so that no burst is an unlucky draw of a few failures."""
    rng = random.Random(seed)
    out = []
    for team, (people, gap, usual) in TEAMS.items():
        for p in range(people):
            user = f"{team}.{p}@corp.example"
            for day in range(2):
                t = at(day, 9.0) + rng.uniform(0, 30) * MINUTE
                while t < at(day, 17.5):
                    out.append(call(t, team, user, rng.random() >= usual, rng))
                    t += rng.uniform(*gap)
    out.sort(key=lambda e: e["time"])
    for team in BURSTS:
        start = burst_start(team)
        bursting = [e for e in out if e["team"] == team and start <= e["time"] < start + LENGTH]
        for i, e in enumerate(bursting):
            e["status"] = "error" if i % 5 in (1, 3) else "ok"
    return out


def call(t: float, team: str, user: str, ok: bool, rng: random.Random) -> dict:
    return {"time": round(t, 3), "name": "claude.invoke", "user": user, "team": team,
            "repo": f"{team}-svc", "session": f"{user}-{int(t // 3600)}",
            "model": "anthropic.claude-sonnet-4-5-20250929-v1:0", "region": "ap-south-1",
            "status": "ok" if ok else "error", "tokens_in": rng.randint(800, 3000),
            "tokens_out": rng.randint(100, 600), "cost": 0.01,
            "latency_ms": rng.uniform(1500, 4000) if ok else 250.0}  # fmt: skip


def team_detectors() -> list[dict]:
    spec = yaml.safe_load(DEFAULTS.read_text())
    return [d for d in spec["detectors"] if d["id"] in TEAM_DETECTORS]


@pytest.fixture(scope="module", params=[5])
def opened(request, tmp_path_factory) -> list[tuple[float, dict]]:
    tmp = tmp_path_factory.mktemp("team-burst-minutes")
    config = tmp / "spanwatch.yml"
    config.write_text(yaml.safe_dump({"detectors": team_detectors()}))
    lines = map(orjson.dumps, events(request.param))
    return replay_opened_at(tmp, lines, "--config", str(config))


def first_critical(opened: list[tuple[float, dict]], team: str) -> float | None:
    times = [
        t for t, i in opened
        if i["severity"] == "critical" and i["group"] == {"team": team}
        and i["rule_id"] == "error-rate-per-team" and t >= burst_start(team) - MINUTE
    ]  # fmt: skip
    return min(times, default=None)


@pytest.mark.parametrize("team", sorted(BURSTS))
def test_a_teams_burst_pages_critical_within_minutes(opened, team):
    paged = first_critical(opened, team)
    assert paged is not None, f"{team}'s burst never paged"
    assert paged - burst_start(team) <= PAGE_WITHIN


@pytest.mark.parametrize("team", sorted(BURSTS))
def test_a_teams_burst_is_one_page(opened, team):
    """A thin team's failures come with lulls of a few minutes: the burst stays one incident."""
    pages = [
        t for t, i in opened
        if i["rule_id"] == "error-rate-per-team" and i["group"] == {"team": team}
    ]  # fmt: skip
    assert len(pages) == 1


def test_nothing_critical_outside_the_bursts(opened):
    def in_a_burst(t: float, group: dict) -> bool:
        team = group.get("team")
        return team in BURSTS and burst_start(team) <= t <= burst_start(team) + LENGTH

    stray = [(t, i["rule_id"], i["group"]) for t, i in opened if i["severity"] == "critical"]
    assert [s for s in stray if not in_a_burst(s[0], s[2])] == []


def feed(ds: DetectorSet, state, evs: list[dict], until: float) -> list[Signal]:
    signals: list[Signal] = []
    for ev in evs:
        for obs in ds.route(ev):
            signals += state.update(obs)
        signals += state.advance(ev["time"] - 30.0)
    return signals + state.advance(until)


@pytest.mark.parametrize("team", sorted(BURSTS))
@pytest.mark.parametrize("into", [1.5, 2.5])
def test_a_snapshot_during_the_burst_keeps_the_evidence_gathering(team, into):
    """Saved and restored `into` minutes into the burst (the key's windows of the last steps
    and the people failing in them are in the snapshot), the detector pages when, and as, the
    one that ran straight through does."""
    [spec] = [d for d in team_detectors() if d["id"] == "error-rate-per-team"]
    evs = [{**e, "time": float(e["time"])} for e in events(5)]
    end = at(1, 18.0)
    cut = burst_start(team) + into * MINUTE
    before, after = [e for e in evs if e["time"] < cut], [e for e in evs if e["time"] >= cut]

    def fresh():
        ds = DetectorSet.from_config(DetectorsConfig.model_validate({"detectors": [spec]}))
        return ds, ds.new_state(spec["id"])

    ds, straight = fresh()
    expected = feed(ds, straight, evs, end)
    ds, state = fresh()
    got = feed(ds, state, before, cut - 30.0)
    state = pickle.loads(pickle.dumps(state))
    got += feed(ds, state, after, end)
    assert got == expected
    opens = [s.time for s in expected if s.firing and s.group == {"team": team}]
    assert opens and opens[0] - burst_start(team) <= PAGE_WITHIN
