"""The rules bench's hand-written pack stays the default pack: a rule added to the pack without a
hand-written twin fails here, not first when someone runs the bench."""

from __future__ import annotations

from bench.rules_throughput import (
    ALLOWED_REGIONS,
    HANDWRITTEN,
    compiled_run,
    generate,
    handwritten_run,
)
from rules.config import RulesConfig
from rules.ruleset import RuleSet


def _default_pack() -> RuleSet:
    return RuleSet.load([], RulesConfig(lists={"allowed_regions": ALLOWED_REGIONS}))


def test_every_default_detection_rule_has_a_hand_written_twin() -> None:
    ids = {rule.rule_id for rule in _default_pack().detections}
    assert ids == set(HANDWRITTEN), ids ^ set(HANDWRITTEN)


def test_the_hand_written_pack_matches_what_the_compiled_pack_matches() -> None:
    ruleset = _default_pack()
    events = generate(3_000)
    assert handwritten_run(ruleset, events)() == compiled_run(ruleset, events)()
