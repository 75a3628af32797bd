"""`spanwatch.reset-on`: a rule whose match empties its group's window (a pass ends a failure run)."""

from __future__ import annotations

import functools
import io
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.cli import check
from rules.config import RulesConfig
from rules.model import CorrelationInput
from rules.ruleset import RuleSet
from rules.testing import run_events
from tests.rules.conftest import write

RULES = """
title: failed
name: failed
logsource: {product: test}
detection:
  sel: {name: assertion, assertion.passed: false}
  condition: sel
---
title: passed
name: passed
logsource: {product: test}
detection:
  sel: {name: assertion, assertion.passed: true}
  condition: sel
---
title: failure run
name: run
level: low
correlation:
  type: event_count
  rules: [failed]
  group-by: [user, session]
  timespan: 10m
  condition: {gte: 4}
spanwatch:
  reset-on: passed
"""


def assertion(t: float, passed: bool, session: str = "s1") -> dict:
    return {
        "time": float(t),
        "name": "assertion",
        "user": "ana",
        "session": session,
        "assertion.passed": passed,
    }


def run_times(ruleset, events) -> list[float]:
    return [h.time for h in run_events(ruleset, events) if h.rule_id == "run"]


def test_a_pass_resets_the_count_of_its_own_session_only(load_rules):
    ruleset = load_rules(RULES)
    events = [assertion(t, False) for t in (0, 10, 20)] + [assertion(30, True)]
    events += [assertion(t, False, "s2") for t in (1, 11, 21)] + [assertion(31, True, "s1")]
    events += [assertion(t, False) for t in (40, 50, 60)]  # three since the pass: not yet
    events += [assertion(41, False, "s2")]  # s2's fourth: its window was never reset
    assert [(h.time, h.group["session"]) for h in run_events(ruleset, events)] == [(41.0, "s2")]
    assert run_times(ruleset, [*events, assertion(70, False)]) == [41.0, 70.0]


def test_the_building_block_of_a_reset_raises_nothing_of_its_own(load_rules):
    ruleset = load_rules(RULES)
    assert run_events(ruleset, [assertion(t, True) for t in range(0, 100, 10)]) == []


def test_an_input_later_than_the_reset_that_arrives_before_it_still_counts(load_rules):
    """Live, inputs may arrive out of order: a reset forgets only what came before its time."""
    ruleset = load_rules(RULES)
    state = ruleset.new_correlation_state("run")

    def feed(t: float, rule: str) -> list:
        inp = CorrelationInput("run", t, ("ana", "s1"), rule, None)
        return state.update(inp)

    for t in (0.0, 10.0, 100.0):  # 100 s arrives before the pass at 50 s
        assert feed(t, "failed") == []
    assert feed(50.0, "passed") == []
    assert feed(110.0, "failed") == []  # 100 and 110: two since the pass
    assert feed(120.0, "failed") == []
    assert [h.evidence["events"] for h in feed(130.0, "failed")] == [4]


def test_a_verdict_no_later_than_the_reset_is_cleared_whenever_it_arrives(load_rules):
    """A test run reports its checks at one instant, in any order: a pass among them clears
    the failures beside it, and a failure that arrives behind a newer pass was before it."""
    ruleset = load_rules(RULES)
    state = ruleset.new_correlation_state("run")

    def feed(t: float, rule: str) -> list:
        return state.update(CorrelationInput("run", t, ("ana", "s1"), rule, None))

    assert feed(50.0, "passed") == []
    for t in (50.0, 50.0, 20.0):  # the same run's failures, then an older one arriving late
        assert feed(t, "failed") == []
    for t in (60.0, 70.0, 80.0):
        assert feed(t, "failed") == []
    assert [h.evidence["events"] for h in feed(90.0, "failed")] == [4]  # 60..90 only


@settings(max_examples=60, deadline=None)
@given(st.permutations([False, False, True, False]), st.integers(0, 4))
def test_a_pass_reported_with_failures_clears_them_in_any_order(verdicts, later_failures):
    """Four checks of one run end together (three failures: too few to fire on their own);
    the run's pass clears its failures, so the rule counts only the failures after it,
    whichever order the stream carries the four in."""
    ruleset = reset_ruleset()
    events = [assertion(100.0, passed) for passed in verdicts]
    events += [assertion(100.0 + 30 * (i + 1), False) for i in range(later_failures)]
    expected = [100.0 + 30 * later_failures] if later_failures >= 4 else []
    assert run_times(ruleset, events) == expected


@functools.cache
def reset_ruleset() -> RuleSet:
    path = Path(tempfile.mkdtemp()) / "reset.yml"
    path.write_text(RULES, encoding="utf-8")
    return RuleSet.load([path])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 120), st.booleans()), min_size=1, max_size=60))
def test_a_run_fires_exactly_when_enough_failures_follow_the_last_pass(steps):
    """The model: fire after an input when >= 4 failures in the last 10 minutes came after the
    newest pass. Steps are 5 to 600 s apart (wider than a bucket, timespan / 256)."""
    ruleset = reset_ruleset()
    events, expected, t = [], [], 0.0
    failures: list[float] = []
    for gap, passed in steps:
        t += gap * 5
        events.append(assertion(t, passed))
        if passed:
            failures.clear()
            continue
        failures = [f for f in failures if f > t - 600] + [t]
        if len(failures) >= 4:
            expected.append(t)
    assert run_times(ruleset, events) == expected


def check_text(tmp_path, text: str) -> tuple[int, str, str]:
    path = write(tmp_path, "r.yml", text)
    out = io.StringIO()
    code = check([str(path)], config=RulesConfig(), known_fields=None, out=out)
    return code, out.getvalue(), str(path)


def test_reset_on_names_problems_with_file_and_line(tmp_path):
    for reset, message in [
        ("nope", "reset-on names rule 'nope', which is not loaded"),
        ("failed", "reset-on names 'failed', which the correlation also counts"),
        ("run", "reset-on names correlation rule 'run': only detection rules"),
    ]:
        code, text, path = check_text(
            tmp_path, RULES.replace("reset-on: passed", f"reset-on: {reset}")
        )
        assert code == 2
        assert f"{path}:25 error: [run] spanwatch.reset-on: {message}" in text, text


def test_reset_on_a_detection_rule_is_an_error_with_its_line(tmp_path):
    text = RULES.replace(
        "detection:\n  sel: {name: assertion, assertion.passed: true}\n  condition: sel\n",
        "detection:\n  sel: {name: assertion, assertion.passed: true}\n  condition: sel\n"
        "spanwatch:\n  reset-on: failed\n",
    )
    code, out, path = check_text(tmp_path, text)
    assert code == 2
    assert (
        f"{path}:15 error: [passed] spanwatch.reset-on: `reset-on` is for correlation rules" in out
    )
