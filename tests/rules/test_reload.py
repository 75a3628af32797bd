"""Reload without restart: unchanged correlations keep their state, broken sets are refused."""

from __future__ import annotations

import logging

from rules.reload import RuleReloader
from rules.ruleset import RuleSet
from tests.rules.conftest import write

RULES = """\
title: failed
name: failed
logsource: {product: test}
detection: {s: {status: error}, condition: s}
---
title: burst
name: burst
level: high
correlation:
  type: event_count
  rules: [failed]
  group-by: [user]
  timespan: 10m
  condition: {gte: THRESHOLD}
---
title: spans
name: spans
logsource: {product: test}
detection: {s: {kind: span}, condition: s}
---
title: many spans
name: many-spans
level: low
correlation:
  type: event_count
  rules: [spans]
  group-by: [user]
  timespan: WINDOW
  condition: {gte: 100}
"""


def rules_text(threshold: int = 3, window: str = "1h") -> str:
    return RULES.replace("THRESHOLD", str(threshold)).replace("WINDOW", window)


def feed(ruleset: RuleSet, states, event):
    hits = []
    for inp in ruleset.evaluate(event)[1]:
        hits.extend(states[inp.correlation_id].update(inp))
    return hits


def test_poll_returns_nothing_until_a_file_changes(tmp_path):
    write(tmp_path, "r.yml", rules_text())
    reloader = RuleReloader([tmp_path])
    assert reloader.poll() is None
    write(tmp_path, "r.yml", rules_text(threshold=2))
    assert isinstance(reloader.poll(), RuleSet)
    assert reloader.poll() is None


def test_unchanged_correlations_keep_their_windows_across_a_reload(tmp_path):
    write(tmp_path, "r.yml", rules_text(threshold=3))
    old = RuleSet.load([tmp_path])
    states = {cid: old.new_correlation_state(cid) for cid in old.correlation_ids}
    event = {"time": 1.0, "user": "al", "status": "error", "kind": "span"}
    feed(old, states, event)
    feed(old, states, {**event, "time": 2.0})
    reloader = RuleReloader([tmp_path])
    write(tmp_path, "r.yml", rules_text(threshold=3, window="2h"))  # only many-spans changes
    new = reloader.poll()
    adopted = new.adopt(states)
    assert adopted["burst"] is states["burst"]
    assert adopted["many-spans"] is not states["many-spans"]
    assert adopted["many-spans"].groups == {}
    hits = feed(new, adopted, {**event, "time": 3.0})
    assert [h.rule_id for h in hits] == ["burst"]  # the third error counts the two before


def test_a_new_threshold_applies_to_a_kept_window(tmp_path):
    write(tmp_path, "r.yml", rules_text(threshold=5))
    old = RuleSet.load([tmp_path])
    states = {cid: old.new_correlation_state(cid) for cid in old.correlation_ids}
    event = {"time": 1.0, "user": "al", "status": "error"}
    assert feed(old, states, event) == []
    write(tmp_path, "r.yml", rules_text(threshold=2))
    new = RuleSet.load([tmp_path])
    adopted = new.adopt(states)
    assert [h.rule_id for h in feed(new, adopted, {**event, "time": 2.0})] == ["burst"]


def test_broken_rules_are_refused_and_logged(tmp_path, caplog):
    write(tmp_path, "r.yml", rules_text())
    reloader = RuleReloader([tmp_path])
    write(tmp_path, "r.yml", rules_text().replace("level: high", "level: bogus"))
    with caplog.at_level(logging.ERROR, logger="rules.reload"):
        assert reloader.poll() is None
    assert "rule reload refused" in caplog.text
    assert "bogus" in caplog.text
    assert reloader.failures == 1
    assert reloader.poll() is None  # the same broken files are not retried on every poll
    write(tmp_path, "r.yml", rules_text(threshold=4))
    assert isinstance(reloader.poll(), RuleSet)


def test_reload_forces_a_load_for_sighup(tmp_path):
    write(tmp_path, "r.yml", rules_text())
    reloader = RuleReloader([tmp_path])
    assert isinstance(reloader.reload(), RuleSet)


def test_a_rule_file_grown_past_the_size_limit_is_refused_and_the_old_rules_run(tmp_path):
    from rules.config import RulesConfig

    path = write(
        tmp_path,
        "rules.yml",
        "title: s\nname: s\nlevel: low\nlogsource: {product: test}\n"
        "detection: {s: {kind: span}, condition: s}\n",
    )
    reloader = RuleReloader([path], RulesConfig(packs=[], max_file_bytes=4096))
    assert reloader.reload() is not None
    path.write_text(path.read_text() + "#" * 10_000 + "\n")
    assert reloader.poll() is None
    assert "over the limit of 4096 bytes" in str(reloader.last_problems[0])
    assert reloader.poll() is None  # the same too-large file is not tried again
    assert reloader.failures == 1
