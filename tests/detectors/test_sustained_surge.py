"""A person's spend surging for hours against ordinary heavy sessions of the same cost per
quarter hour: the default `cost-per-user` detector must open one incident for the surge, none
for the sessions, whoever is new, in any time zone."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import DetectorsConfig, DetectorSet, Signal
from detectors.sustained import SustainedParams, SustainedSurge

SUNDAY = 1794700800.0  # 2026-11-15T00:00:00Z: the history starts on a weekend
HOUR = 3600.0
QUARTER = 900.0
DEFAULTS = Path(__file__).resolve().parents[2] / "detectors" / "defaults.yml"


def cost_per_user(**params: float) -> DetectorSet:
    """The default `cost-per-user` detector, as shipped (with `params` over its own)."""
    specs = yaml.safe_load(DEFAULTS.read_text())["detectors"]
    [spec] = [s for s in specs if s["id"] == "cost-per-user"]
    spec = {**spec, "params": {**spec.get("params", {}), **params}}
    return DetectorSet.from_config(DetectorsConfig.model_validate({"detectors": [spec]}))


def call(t: float, user: str, team: str, cost: float) -> dict:
    """A Claude Code log event of one model call (no session: each call counts)."""
    return {"time": t, "name": "claude_code.api_request", "user": user, "team": team, "cost": cost}


def session(rng: random.Random, start: float, minutes: float, per_call: float) -> list:
    """(time, cost) of the calls of one session: a call every 40-120 s."""
    out, t = [], start
    while t < start + minutes * 60:
        out.append((t, per_call * rng.uniform(0.2, 1.4)))
        t += rng.uniform(40, 120)
    return out


def organisation(seed: int, days: int, offset_h: float) -> tuple[list[dict], dict[str, str]]:
    """Forty people in four teams working weekdays in their zone (`offset_h` from UTC): most
    in light sessions, one in six with a long-context session most days that costs $20-30 in
    15 minutes and lasts 20-45 minutes; one person joins on the third day. (Two such sessions
    within two hours are 90 minutes of heavy spend: as much as a surge's first 90 minutes.)"""
    rng = random.Random(seed)
    teams = {f"p{i:02d}@example.org": f"team-{i % 4}" for i in range(40)}
    events: list[dict] = []
    for user, team in teams.items():
        heavy = rng.random() < 1 / 6
        first_day = 2 if user == "p39@example.org" else 0
        for day in range(first_day, days):
            day_start = SUNDAY + day * 86400 - offset_h * HOUR
            if day % 7 in (0, 6):  # Sunday, Saturday
                continue
            for i in range(rng.randint(1, 4)):
                start = day_start + rng.uniform(8, 17) * HOUR
                if heavy and i == 0 and rng.random() < 0.7:
                    calls = session(rng, start, rng.uniform(20, 45), 2.2)
                else:
                    calls = session(rng, start, rng.uniform(10, 60), 0.1)
                events += [call(t, user, team, c) for t, c in calls]
    return events, teams


def replay(ds: DetectorSet, events: list[dict], until: float) -> list[Signal]:
    state = ds.new_state("cost-per-user")
    out: list[Signal] = []
    for ev in sorted(events, key=lambda e: e["time"]):
        for obs in ds.route(ev):
            out += state.update(obs)
        out += state.advance(ev["time"] - 60)
    return out + state.advance(until)


def opened(signals: list[Signal]) -> list[Signal]:
    """The signals that open an incident (a firing key signals every window it fires)."""
    out, firing = [], set()
    for s in signals:
        key = tuple(sorted(s.group.items()))
        if s.firing and key not in firing:
            out.append(s)
        (firing.add if s.firing else firing.discard)(key)
    return out


@pytest.mark.parametrize(("seed", "offset_h"), [(1, -5.0), (2, 5.5), (5, 9.0)])
def test_ordinary_long_context_sessions_open_nothing_and_a_surge_opens_once(seed, offset_h):
    """From the organisation's third working day: before, a heavy user's first long-context
    session may still be news (their own maximum is of light days, and their peers' too)."""
    events, teams = organisation(seed, days=11, offset_h=offset_h)
    end = SUNDAY + 11 * 86400
    settled = SUNDAY + 4 * 86400 - offset_h * HOUR
    assert not [s for s in opened(replay(cost_per_user(), events, end)) if s.time >= settled]

    # one light user of team-1 runs the expensive model on huge contexts for three hours
    rng = random.Random(seed + 100)
    spent = {u: sum(e["cost"] for e in events if e["user"] == u) for u in teams}
    user = min((u for u, t in teams.items() if t == "team-1"), key=spent.__getitem__)
    start = SUNDAY + 9 * 86400 + (13 - offset_h) * HOUR
    surge = [call(t, user, "team-1", c) for t, c in session(rng, start, 180, 2.2)]
    signals = replay(cost_per_user(), events + surge, end)
    [alert] = [s for s in opened(signals) if s.time >= settled]
    assert alert.group == {"user": user}
    # within two hours of its start (a quarter of an hour cannot tell it from a session)
    assert start < alert.time <= start + 2 * HOUR
    assert alert.evidence["multiple"] >= 8
    # one incident for the whole surge: it resolves only after the surge has ended
    resolved = [s for s in signals if not s.firing and s.group == alert.group]
    assert resolved and resolved[0].time >= start + 3 * HOUR


def test_a_newcomer_whose_first_work_is_a_surge_is_judged_by_its_peers():
    events, _ = organisation(4, days=11, offset_h=1.0)
    rng = random.Random(7)
    start = SUNDAY + 8 * 86400 + 10 * HOUR
    surge = [call(t, "new@example.org", "team-2", c) for t, c in session(rng, start, 240, 2.2)]
    signals = replay(cost_per_user(), events + surge, SUNDAY + 11 * 86400)
    [alert] = [s for s in opened(signals) if s.time >= SUNDAY + 4 * 86400]
    assert alert.group == {"user": "new@example.org"}
    assert alert.evidence["own_max"] == 0.0 and alert.evidence["all_median_max"] > 0.0
    assert start < alert.time <= start + 4 * HOUR


P = SustainedParams(windows=4, ratio=4.0, min_peers=3, settle=2, step=QUARTER)


def peers(n: int, peak: float) -> SustainedSurge:
    root = SustainedSurge(P)
    for i in range(n):
        root.learn_one((("peer", str(i)), peak, 10), 0.0)
    return root


def run(model: SustainedSurge, root: SustainedSurge, values: list[float], t0: float) -> list:
    """Score then learn each window, as a detector state does; the scores."""
    scores = []
    for i, x in enumerate(values):
        t = t0 + i * QUARTER
        if x <= 0.0:
            continue  # an idle window is no point
        seen = model.judged(x, None, root, t, 0.0)
        scores.append(model.score_one(seen, t))
        model.learn_one(x, t)
    return scores


@settings(deadline=None, max_examples=60)
@given(
    level=st.floats(0.5, 40.0),
    sessions=st.lists(st.tuples(st.integers(1, 3), st.integers(2, 12)), min_size=1, max_size=30),
)
def test_sessions_no_longer_than_the_ones_a_person_has_had_never_alert(level, sessions):
    """A person whose sessions ran up to three windows at a level: any later session of that
    level and length, after any gap, is ordinary however many there are."""
    model, root = SustainedSurge(P), peers(5, level)
    windows: list[float] = []
    for length, gap in [(3, 20), *sessions]:
        windows += [level] * length + [0.0] * gap
    assert max(run(model, root, windows, SUNDAY)) < 0.5


@settings(deadline=None, max_examples=60)
@given(level=st.floats(0.5, 40.0), history=st.integers(0, 40), surge=st.floats(5.0, 50.0))
def test_a_surge_alerts_within_its_span_and_stays_alerting_while_it_lasts(level, history, surge):
    """Spend per window `surge` times the person's session level, window after window: it
    alerts within `windows` windows and keeps alerting for twice the span at least (its
    totals teach the maximum it is judged by only that much later)."""
    model, root = SustainedSurge(P), peers(5, 3 * level)
    ordinary = ([level] * 3 + [0.0] * 9) * (1 + history // 12)
    run(model, root, ordinary, SUNDAY)
    t0 = SUNDAY + len(ordinary) * QUARTER
    scores = run(model, root, [surge * level] * 24, t0)
    first = next(i for i, s in enumerate(scores) if s >= 0.5)
    assert first < P.windows
    assert min(scores[first : 2 * P.windows]) >= 0.5


def test_too_few_settled_peers_score_nothing():
    model, root = SustainedSurge(P), peers(2, 1.0)
    assert run(model, root, [100.0] * 8, SUNDAY) == [0.0] * 8


@settings(deadline=None, max_examples=60)
@given(
    level=st.floats(0.5, 40.0),
    own_ratio=st.floats(2.0, 4.0),
    sessions=st.lists(st.tuples(st.integers(1, 3), st.integers(2, 12)), min_size=1, max_size=30),
)
def test_a_smaller_multiple_of_a_persons_own_maximum_still_spares_their_sessions(
    level, own_ratio, sessions
):
    """However small the multiple of the person's own maximum, a session no longer than
    theirs is no surge: their maximum already holds it."""
    params = SustainedParams(windows=4, ratio=4.0, own_ratio=own_ratio, min_peers=3, settle=2)
    model, root = SustainedSurge(params), peers(5, level)
    windows: list[float] = []
    for length, gap in [(3, 20), *sessions]:
        windows += [level] * length + [0.0] * gap
    assert max(run(model, root, windows, SUNDAY)) < 0.5


def test_a_heavy_persons_surge_alerts_at_the_own_multiple_not_the_peers_one():
    """A person whose sessions cost ten times their peers': `ratio` times their maximum would
    wait for a surge eight times their heaviest stretch; `own_ratio` alerts at three times it,
    and the peers' bar still holds for a light person."""
    heavy = ([10.0] * 3 + [0.0] * 9) * 4  # three windows of 10 a session: a maximum of 30
    surge = [25.0] * 12  # 25 a window: 4 windows total 100, >3x 30 but <4x 30

    def first_alert(own_ratio: float) -> int | None:
        params = SustainedParams(windows=4, ratio=4.0, own_ratio=own_ratio, min_peers=3, settle=2)
        model, root = SustainedSurge(params), peers(5, 3.0)
        run(model, root, heavy, SUNDAY)
        scores = run(model, root, surge, SUNDAY + len(heavy) * QUARTER)
        return next((i for i, s in enumerate(scores) if s >= 0.5), None)

    assert first_alert(0.0) is None  # judged at 4x its own 30: 120 is never reached
    assert first_alert(3.0) == 3  # 100 >= 3 x 30 once four windows are summed
    # a light person (no sessions of their own yet) is judged by the peers alone
    params = SustainedParams(windows=4, ratio=4.0, own_ratio=2.0, min_peers=3, settle=2)
    light, root = SustainedSurge(params), peers(5, 3.0)
    assert max(run(light, root, [2.0] * 8, SUNDAY)) < 0.5  # 8 < 2 x 4 x 3


@pytest.mark.parametrize(("seed", "offset_h"), [(1, -5.0), (2, 5.5), (5, 9.0)])
def test_own_ratio_pages_the_heaviest_persons_surge_within_its_span(seed, offset_h):
    """The person whose long-context sessions cost the most, running at under three times
    their session rate for three hours: judged at the shipped 8x of their own heaviest two
    hours it never alerts; at `own_ratio: 5` it does, within two hours, and only for them."""
    events, teams = organisation(seed, days=11, offset_h=offset_h)
    user = max(teams, key=lambda u: sum(e["cost"] for e in events if e["user"] == u))
    rng = random.Random(seed + 100)
    start = SUNDAY + 9 * 86400 + (13 - offset_h) * HOUR
    surge = [call(t, user, teams[user], c) for t, c in session(rng, start, 180, 6.0)]
    settled = SUNDAY + 4 * 86400 - offset_h * HOUR
    shipped = replay(cost_per_user(), events + surge, SUNDAY + 11 * 86400)
    assert not [s for s in opened(shipped) if s.time >= settled]
    signals = replay(cost_per_user(own_ratio=5), events + surge, SUNDAY + 11 * 86400)
    [alert] = [s for s in opened(signals) if s.time >= settled]
    assert alert.group == {"user": user}
    assert start < alert.time <= start + 2 * HOUR
    assert alert.evidence["own_max"] > alert.evidence["all_median_max"]
