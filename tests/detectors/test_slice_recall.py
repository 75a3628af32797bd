"""One outbreak, one name: a slices detector does not open again under another label for
failures its firing (or just resolved) slice already stands for."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.config import DetectorSpec
from tests.detectors.test_slices import opened, raw, run

START = 1793577600.0  # a Monday


def organisation(seed: int, teams: int, burst_repos: list[str]) -> list[dict]:
    """Teams of five calling two repositories each (1% errors); at minute 420 a newcomer to
    team t0, with no history of their own, fails four calls in five in each of
    `burst_repos` in turn, twenty minutes each."""
    rng = random.Random(seed)
    events = []
    people = [(f"t{t}-p{i}", f"t{t}") for t in range(teams) for i in range(5)]

    def call(t: float, user: str, team: str, repo: str, error_p: float) -> dict:
        return {"time": t, "name": "claude.invoke", "user": user, "team": team, "repo": repo,
                "model": "sonnet", "region": "eu-west-1", "workflow": "feature",
                "status": "error" if rng.random() < error_p else "ok"}  # fmt: skip

    for m in range(420 + 20 * len(burst_repos) + 20):
        t0 = START + 60 * m
        for user, team in people:
            for _ in range(2):
                repo = f"{team}-{rng.choice(['api', 'web'])}"
                events.append(call(t0 + rng.uniform(0, 59), user, team, repo, 0.01))
        burst = (m - 420) // 20
        if m >= 420 and burst < len(burst_repos):
            for _ in range(5):
                events.append(
                    call(t0 + rng.uniform(0, 59), "newbie", "t0", burst_repos[burst], 0.8)
                )
    return sorted(events, key=lambda e: e["time"])


def detector() -> DetectorSpec:
    params = {"direction": "up", "span": 3, "min_points": 30}
    return DetectorSpec.model_validate(
        raw(interval="1m", warmup="2h", keep_firing_for=10, params=params)
    )


@settings(max_examples=4, deadline=None, derandomize=True)
@given(st.integers(0, 1000), st.integers(3, 5))
def test_one_persons_failures_moving_to_another_repository_keep_their_first_name(seed, teams):
    _, signals = run(detector(), organisation(seed, teams, ["t0-api", "t0-web"]), 60.0)
    named = {tuple(s.group.items()) for s in opened(signals)}
    # the newcomer is too new to be judged: their first repository names the outbreak, and
    # their failures in the second one join it rather than opening a second incident
    assert len(named) == 1 and named <= {(("repo", "t0-api"),), (("team", "t0"),)}


def test_another_persons_failures_elsewhere_still_open_their_own():
    """The link is the person: a second outbreak of someone else is not swallowed."""
    events = organisation(5, 3, ["t0-api"])
    rng = random.Random(9)
    for m in range(430, 450):
        for _ in range(5):
            events.append({"time": START + 60 * m + rng.uniform(0, 59), "name": "claude.invoke",
                           "user": "t2-p1", "team": "t2", "repo": "t2-web", "model": "sonnet",
                           "region": "eu-west-1", "workflow": "feature",
                           "status": "error" if rng.random() < 0.8 else "ok"})  # fmt: skip
    _, signals = run(detector(), sorted(events, key=lambda e: e["time"]), 60.0)
    named = {tuple(s.group.items()) for s in opened(signals)}
    t0 = {(("repo", "t0-api"),), (("team", "t0"),)}
    t2 = {(("repo", "t2-web"),), (("team", "t2"),), (("user", "t2-p1"),)}
    assert len(named) == 2 and len(named & t0) == 1 and len(named & t2) == 1


def test_how_long_a_resolved_slice_keeps_its_name_is_the_detectors_recall():
    """The outbreak resolves (two quiet minutes) as the person turns to another repository:
    within the default half hour's recall it comes back under its first name; with a
    recall of one minute the second repository is named on its own."""
    events = organisation(5, 3, ["t0-api", "t0-web"])
    names = {}
    for recall in ("30m", "1m"):
        params = {"direction": "up", "span": 3, "min_points": 30, "recall": recall}
        spec = raw(interval="1m", warmup="2h", keep_firing_for=2, params=params)
        _, signals = run(DetectorSpec.model_validate(spec), events, 60.0)
        names[recall] = [tuple(s.group.items()) for s in opened(signals)]
    assert len(set(names["30m"])) == 1
    assert len(set(names["1m"])) == 2 and names["1m"][-1] == (("repo", "t0-web"),)
