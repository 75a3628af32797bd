"""Organisations shaped unlike the defaults: spellings, exports, zones, traffic, batching, and
the extended incident kinds."""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from pathlib import Path

import orjson
import pytest

from replay.simulator.injected_incidents import NEEDS_SPANS
from replay.simulator.population import build_organisation
from replay.simulator.shape import TRAFFIC_SHAPES, OrgShape
from replay.simulator.simulate import SimulationSpec
from replay.simulator.universe import CACHE_HIT_COLLAPSE, RUNAWAY_SESSIONS, TEAM_ERROR_BURST
from replay.simulator.workday import DAY_S, US, session_starts, weekday
from tests.replay.conftest import Simulated, run
from tests.replay.otlp_view import official_events

CALLS = ("claude.invoke", "claude_code.api_request", "claude_code.api_error")
MODELS = ("sonnet-4-5", "haiku-4-5", "opus-4-1")


def shaped(tmp: Path, name: str, days: int = 2, users: int = 30, **knobs: str) -> Simulated:
    kinds = knobs.pop("kinds", "classic")
    spec = SimulationSpec(days=days, users=users, seed=11, shape=OrgShape(**knobs), kinds=kinds)
    return run(tmp, spec, name)


def model_of(spelling: str) -> str:
    """Which of the simulator's models a spelling names (independent of the engine's parser)."""
    return next(m for m in (*MODELS, "3-opus") if m in spelling.lower())


@pytest.mark.parametrize(
    ("style", "looks_like"),
    [
        ("foundation", lambda m: m.startswith("anthropic.claude-") and m.endswith("-v1:0")),
        ("regional", lambda m: m.split(".")[0] in ("us", "eu", "apac")),
        ("global", lambda m: m.startswith("global.anthropic.claude-")),
        ("arn", lambda m: m.startswith("arn:aws:bedrock:") and ":inference-profile/" in m),
        ("api", lambda m: m.startswith("claude-") and "anthropic" not in m and ":" not in m),
    ],
)
def test_each_spelling_names_the_same_models(tmp_path, style, looks_like):
    sim = shaped(tmp_path, style, days=1, users=12, spelling=style, export="both")
    models = [e["model"] for e in sim.events if e["name"] in CALLS]
    assert models and all(looks_like(m) for m in models)
    assert {model_of(m) for m in models} <= {*MODELS, "3-opus"}
    # spans and Claude Code's events of the same calls name the same model
    spans = Counter(model_of(e["model"]) for e in sim.events if e["name"] == "claude.invoke")
    logs = Counter(model_of(e["model"]) for e in sim.events if e["name"] != "claude.invoke"
                   and e["name"] in CALLS)  # fmt: skip
    assert spans == logs


def style_of(model: str) -> str:
    low = model.lower()
    if low.startswith("arn:"):
        return "arn"
    if low.startswith("claude"):
        return "api"
    head = low.split(".")[0]
    return "geography" if head in ("us", "eu", "apac") else head  # global, anthropic


def test_mixed_spellings_differ_between_people_and_logs_use_api_names(tmp_path):
    sim = shaped(tmp_path, "mixed", days=1, users=40, spelling="mixed", export="both")
    by_user: dict[str, set[str]] = defaultdict(set)
    for e in sim.events:
        if e["name"] == "claude.invoke":
            by_user[e["user"]].add(style_of(e["model"]))
        elif e["name"] in CALLS:
            assert e["model"].lower().startswith("claude-")
    styles = set().union(*by_user.values())
    assert len(styles) >= 4 and all(len(s) == 1 for s in by_user.values())
    spans = [e["model"] for e in sim.events if e["name"] == "claude.invoke"]
    assert any(m.isupper() for m in spans) and any(m.islower() for m in spans)


def test_logs_only_organisations_send_no_spans_and_no_span_only_incidents(tmp_path):
    sim = shaped(tmp_path, "logs", days=3, users=30, export="logs")
    assert not any(e["kind"] == "span" for e in sim.events)
    names = Counter(e["name"] for e in sim.events)
    assert names["claude_code.api_request"] > 100 and names["claude_code.tool_result"] > 50
    assert not {t["kind"] for t in sim.truths} & NEEDS_SPANS
    assert sim.summary.spans == 0


def test_mixed_exports_vary_per_person_and_span_only_incidents_go_to_people_with_spans(tmp_path):
    sim = shaped(tmp_path, "mixedexport", days=3, users=40, export="mixed")
    kinds: dict[str, set[str]] = defaultdict(set)
    for e in sim.events:
        if e["name"] == "claude.invoke":
            kinds[e["user"]].add("span")
        elif e["name"] == "claude_code.api_request":
            kinds[e["user.email"]].add("log")
    assert {frozenset(k) for k in kinds.values()} == {
        frozenset({"span"}),
        frozenset({"log"}),
        frozenset({"span", "log"}),
    }
    for truth in sim.truths:
        if truth["kind"] in NEEDS_SPANS and "user" in truth["group"]:
            assert "span" in kinds[truth["group"]["user"]]


def test_global_zones_spread_work_over_the_clock_with_half_hour_offsets(tmp_path):
    sim = shaped(tmp_path, "zones", days=3, users=80, zones="global")
    hours = Counter(int(e["time"] // 3600 % 24) for e in sim.events if e["name"] == "claude.invoke")
    busy = [h for h in range(24) if hours[h] > 0.02 * sum(hours.values())]
    assert len(busy) >= 18  # the default four sites leave most of the UTC night empty
    minutes = Counter(int(e["time"] // 60 % 60) // 30 for e in sim.events)
    assert minutes[0] and minutes[1]


def starts_under(traffic: str) -> list[tuple[int, float]]:
    """(local weekday, local hour) of every session start of 30 people over four weeks."""
    org = build_organisation(5, 30)
    knobs = TRAFFIC_SHAPES[traffic]
    out = []
    for user in org.users:
        for day in range(20_300, 20_328):
            rng = random.Random(f"{user.index}:{day}")
            starts, _ = session_starts(rng, user, day, knobs)
            for t in starts:
                local = t / US + user.utc_offset_s
                out.append((weekday(int(local // DAY_S)), local % DAY_S / 3600))
    return out


def test_traffic_shapes_change_how_much_and_when_people_work():
    base, heavy, light = (starts_under(t) for t in ("default", "heavy", "light"))
    assert 1.7 < len(heavy) / len(base) < 2.3 and 0.35 < len(light) / len(base) < 0.65
    night = starts_under("round-the-clock")
    weekend = lambda s: sum(1 for d, _ in s if d >= 5)  # noqa: E731
    small_hours = lambda s: sum(1 for _, h in s if h < 6)  # noqa: E731
    assert weekend(night) > 3 * weekend(base) and small_hours(night) > 10 * max(
        small_hours(base), 1
    )


def test_bursty_traffic_gathers_a_persons_sessions():
    def median_gap(traffic: str) -> float:
        by_day: dict[tuple, list[float]] = defaultdict(list)
        org = build_organisation(5, 30)
        for user in org.users:
            for day in range(20_300, 20_310):
                rng = random.Random(f"{user.index}:{day}")
                starts, _ = session_starts(rng, user, day, TRAFFIC_SHAPES[traffic])
                by_day[(user.index, day)] = sorted(starts)
        gaps = sorted(b - a for s in by_day.values() for a, b in itertools.pairwise(s))
        return gaps[len(gaps) // 2]

    assert median_gap("bursty") < 0.5 * median_gap("default")


def test_session_batching_writes_one_session_per_request(tmp_path):
    sim = shaped(tmp_path, "batch", days=1, users=15, export="both", batching="session")
    for line in sim.path.read_bytes().splitlines():
        request = orjson.loads(line)
        assert len(request.get("resourceSpans", request.get("resourceLogs"))) == 1
    # the same records as Collector batching, only cut differently
    collector = shaped(tmp_path, "batch2", days=1, users=15, export="both")
    key = lambda e: (e["name"], e["time"])  # noqa: E731
    assert sorted(map(key, sim.events)) == sorted(map(key, collector.events))
    assert list(official_events(sim.path))


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    return shaped(tmp_path_factory.mktemp("ext"), "ext", days=3, users=60, kinds="all")


def in_window(e: dict, truth: dict) -> bool:
    from replay.timefmt import parse_time

    return parse_time(truth["start"]) <= e["time"] < parse_time(truth["end"])


def test_the_extended_kinds_are_in_the_truth_with_their_severity(extended):
    found = {t["kind"]: t for t in extended.truths}
    assert found[TEAM_ERROR_BURST]["severity"] == "critical"
    assert found[RUNAWAY_SESSIONS]["severity"] == "critical"
    assert found[CACHE_HIT_COLLAPSE]["severity"] == "medium"


def test_a_team_error_burst_fails_about_forty_percent_of_the_teams_calls(extended):
    [truth] = [t for t in extended.truths if t["kind"] == TEAM_ERROR_BURST]
    team = truth["group"]["team"]
    calls = [e for e in extended.events if e["name"] == "claude.invoke" and e["team"] == team]
    during = [e for e in calls if in_window(e, truth)]
    share = sum(e["status"] == "error" for e in during) / len(during)
    assert len(during) >= 40 and 0.3 <= share <= 0.5
    before = [e for e in calls if not in_window(e, truth)]
    assert sum(e["status"] == "error" for e in before) / len(before) < 0.05


def test_a_cache_hit_collapse_empties_the_teams_prompt_cache(extended):
    [truth] = [t for t in extended.truths if t["kind"] == CACHE_HIT_COLLAPSE]
    team = truth["group"]["team"]
    calls = [e for e in extended.events if e["name"] == "claude.invoke" and e["team"] == team]
    during = [e["cache_hit"] for e in calls if in_window(e, truth)]
    other = [e["cache_hit"] for e in calls if not in_window(e, truth)]
    assert len(during) >= 40 and sum(during) / len(during) < 0.1
    assert sum(other) / len(other) > 0.5


def test_a_runaway_agent_opens_about_forty_sessions_a_minute(extended):
    [truth] = [t for t in extended.truths if t["kind"] == RUNAWAY_SESSIONS]
    user = truth["group"]["user"]
    sessions = {e["session.id"] for e in extended.events
                if e.get("user") == user and in_window(e, truth)}  # fmt: skip
    assert 30 * 20 <= len(sessions) <= 50 * 20
