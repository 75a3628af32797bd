"""`spanwatch: {count: new-values}`: a value_count that counts only values first seen within the
timespan (sessions started, not sessions active)."""

from __future__ import annotations

import functools
import io
import itertools
import pickle
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.cli import check
from rules.config import RulesConfig
from rules.ruleset import RuleSet
from rules.testing import run_events
from tests.rules.conftest import write

RULES = """
title: call
name: call
logsource: {product: test}
detection:
  sel: {name: call}
  condition: sel
---
title: started
name: started
level: low
correlation:
  type: value_count
  rules: [call]
  group-by: [user]
  timespan: 5m
  condition: {gte: %(threshold)s, field: session}
spanwatch:
  count: new-values
---
title: active
name: active
level: low
correlation:
  type: value_count
  rules: [call]
  group-by: [user]
  timespan: 5m
  condition: {gte: %(threshold)s, field: session}
"""


def call(t: float, session: str, user: str = "ana") -> dict:
    return {"time": float(t), "name": "call", "user": user, "session": session}


def hit_times(ruleset: RuleSet, events: list[dict], rule: str = "started") -> list[float]:
    return [h.time for h in run_events(ruleset, events) if h.rule_id == rule]


def test_sessions_held_since_before_the_window_do_not_count(load_rules):
    ruleset = load_rules(RULES % {"threshold": 3})
    # four sessions opened 200 s apart, each called every minute until 1200 s
    events = [call(t, f"s{k}") for k in range(4) for t in range(200 * k, 1200, 60)]
    assert hit_times(ruleset, events, "active") != []  # three and four active at once
    assert hit_times(ruleset, events) == []  # but never three started within five minutes
    # three started within five minutes: a hit from the third one's first call on
    new = [call(900, "n0"), call(1000, "n1"), call(1150, "n2")]
    assert hit_times(ruleset, events + new)[:1] == [1150.0]


def test_a_session_idle_longer_than_the_timespan_counts_as_new_again(load_rules):
    ruleset = load_rules(RULES % {"threshold": 3})
    opened = [call(0, "a"), call(10, "b")]
    assert hit_times(ruleset, [*opened, call(20, "c")]) == [20.0]
    # a and b resumed after six idle minutes count as started again; one call within five
    # minutes keeps them remembered with their first time
    assert hit_times(ruleset, [*opened, call(370, "a"), call(380, "b"), call(390, "c")]) == [390.0]
    kept = [*opened, call(200, "a"), call(210, "b"), call(400, "a"), call(410, "b")]
    assert hit_times(ruleset, [*kept, call(420, "c")]) == []


def test_a_hit_shows_the_new_values_and_how_many_are_active(load_rules):
    ruleset = load_rules(RULES % {"threshold": 2})
    events = [call(0, "old"), call(200, "old"), call(350, "x"), call(400, "old"), call(450, "y")]
    hits = [h for h in run_events(ruleset, events) if h.rule_id == "started"]
    assert [h.time for h in hits] == [450.0]
    evidence = hits[0].evidence
    assert evidence["new_values"] == 2 and evidence["distinct"] == 3
    assert evidence["values"] == ["x", "y"]


def test_the_window_survives_a_snapshot(load_rules):
    """First times are part of the state: after a restore, a session held since before the
    window still does not count, and the third started one fires."""
    ruleset = load_rules(RULES % {"threshold": 3})
    state = ruleset.new_correlation_state("started")

    def feed(target, event):
        return [
            h
            for inp in ruleset.evaluate(event)[1]
            if inp.correlation_id == "started"
            for h in target.update(inp)
        ]

    for event in [call(0, "old"), call(250, "old"), call(400, "a"), call(410, "b")]:
        feed(state, event)
    restored = pickle.loads(pickle.dumps(state))
    assert feed(restored, call(420, "old")) == []
    assert [h.evidence["new_values"] for h in feed(restored, call(430, "c"))] == [3]


def test_a_reload_that_turns_new_values_on_starts_a_fresh_window(load_rules):
    """A plain window has no first times: switching the count keeps no old window, while a
    reload that changes only the threshold keeps it."""
    plain = load_rules((RULES % {"threshold": 3}).replace("spanwatch:\n  count: new-values\n", ""))
    old = {"started": plain.new_correlation_state("started")}
    counting = load_rules(RULES % {"threshold": 3})
    assert counting.adopt(old)["started"] is not old["started"]
    kept = {"started": counting.new_correlation_state("started")}
    assert load_rules(RULES % {"threshold": 5}).adopt(kept)["started"] is kept["started"]


def check_text(tmp_path: Path, text: str) -> tuple[int, str, str]:
    path = write(tmp_path, "rules.yml", text)
    out = io.StringIO()
    code = check([str(path)], config=RulesConfig(), known_fields=None, out=out)
    return code, out.getvalue(), str(path)


def test_count_new_values_is_only_for_value_count_correlations(tmp_path):
    text = (RULES % {"threshold": 3}).replace("type: value_count", "type: event_count", 1)
    code, out, path = check_text(tmp_path, text)
    assert code == 2
    assert f"{path}:" in out and "`count: new-values` is for value_count correlations" in out
    on_detection = (RULES % {"threshold": 3}).replace(
        "  condition: sel\n", "  condition: sel\nspanwatch:\n  count: new-values\n", 1
    )
    code, out, _ = check_text(tmp_path, on_detection)
    assert code == 2 and "`count` is for value_count correlations" in out
    code, out, _ = check_text(tmp_path, (RULES % {"threshold": 3}).replace("new-values", "fresh"))
    assert code == 2 and "spanwatch.count" in out


@functools.cache
def counting_ruleset() -> RuleSet:
    path = Path(tempfile.mkdtemp()) / "count.yml"
    path.write_text(RULES % {"threshold": 0}, encoding="utf-8")
    return RuleSet.load([path])


def started_model(events: list[tuple[int, str]], t: int, span: int = 300) -> int:
    """Sessions in the window (t - span, t] whose calls since their first have no gap of a
    whole span: a session idle that long was forgotten and started again."""
    started = 0
    for session in {s for _, s in events}:
        times = [u for u, s in events if s == session and u <= t]
        if not times or times[-1] <= t - span:
            continue
        start = times[0]
        for before, after in itertools.pairwise(times):
            if after - before >= span:
                start = after
        started += start > t - span
    return started


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 400), st.sampled_from(["a", "b", "c", "d", "e"])),
        min_size=1,
        max_size=40,
    )
)
def test_new_values_are_those_first_seen_in_the_window_and_never_more_than_distinct(steps):
    """After every input: the new-values count equals the model (a value seen before the window
    and since does not count) and never exceeds the distinct count over the same window."""
    clock, events = 0, []
    for gap, session in steps:
        clock += gap
        events.append((clock, session))
    hits = run_events(counting_ruleset(), [call(t, s) for t, s in events])
    started = [h.evidence for h in hits if h.rule_id == "started"]
    active = [h.evidence for h in hits if h.rule_id == "active"]
    assert len(started) == len(active) == len(events)
    for i, (evidence, plain) in enumerate(zip(started, active, strict=True)):
        assert evidence["new_values"] <= evidence["distinct"] == plain["distinct"]
        assert evidence["new_values"] == started_model(events[: i + 1], events[i][0])
