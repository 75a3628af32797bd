"""What a rule produces (`spanwatch: {produces: ...}`): incidents by default, findings for a
quality-tagged rule, whatever the file says when it says it, and the configuration over both."""

from __future__ import annotations

import io

import pytest

from rules.cli import check
from rules.config import RulesConfig
from rules.ruleset import RuleSet
from tests.rules.conftest import write

SHELL = {"name": "shell.run", "command": "git push --no-verify", "user": "ann", "time": 1.0e9}


def rule(name: str, *, tags: str = "", produces: str = "") -> str:
    lines = [
        "title: A rule",
        f"name: {name}",
        "level: low",
        f"tags: [{tags}]" if tags else "",
        "logsource: {product: claude_code}",
        "detection:",
        "  sel: {name: shell.run, command|contains: no-verify}",
        "  condition: sel",
        f"spanwatch: {{produces: {produces}}}" if produces else "",
    ]
    return "\n".join(line for line in lines if line) + "\n"


def produced(tmp_path, text: str, config: RulesConfig | None = None) -> dict[str, str]:
    path = write(tmp_path, "rule.yml", text)
    ruleset = RuleSet.load([path], config or RulesConfig(packs=[]))
    hits, _ = ruleset.evaluate(SHELL)
    return {h.rule_id: h.produces for h in hits}


@pytest.mark.parametrize(
    ("tags", "produces", "expected"),
    [
        ("", "", "incident"),
        ("attack.defense_evasion", "", "incident"),
        ("spanwatch.quality", "", "finding"),
        ("spanwatch.Quality, attack.t1059", "", "finding"),  # tags compare in any case
        ("spanwatch.quality", "incident", "incident"),  # the file says
        ("", "finding", "finding"),
    ],
)
def test_what_a_rule_produces_by_tag_and_by_its_own_word(tmp_path, tags, produces, expected):
    assert produced(tmp_path, rule("r", tags=tags, produces=produces)) == {"r": expected}


def test_the_configuration_overrides_the_file_both_ways(tmp_path):
    text = rule("quality", tags="spanwatch.quality") + "---\n" + rule("security")
    config = RulesConfig(packs=[], produces={"quality": "incident", "security": "finding"})
    assert produced(tmp_path, text, config) == {"quality": "incident", "security": "finding"}


def test_a_bad_value_in_a_rule_file_is_an_error_at_its_line(tmp_path):
    path = write(tmp_path, "rule.yml", rule("r", produces="page"))
    out = io.StringIO()
    code = check([str(path)], config=RulesConfig(packs=[]), known_fields=(), out=out)
    assert code != 0
    assert f"{path}:" in out.getvalue() and "produces" in out.getvalue()


def test_the_default_pack_pages_for_security_and_counts_quality(tmp_path):
    ruleset = RuleSet.from_config(RulesConfig())
    detections = {r.rule_id: r.produces for r in ruleset.detections if r.generates}
    correlations = {cid: s.produces for cid, s in ruleset.correlations.items()}
    everything = {**detections, **correlations}
    findings = {rid for rid, what in everything.items() if what == "finding"}
    assert findings == {"pr-without-passing-assertion", "repeated-assertion-failures"}
    for rid in ("credential-in-command", "shell-pipe-to-shell", "unapproved-model",
                "user-session-churn", "user-error-burst"):  # fmt: skip
        assert everything[rid] == "incident"


def test_a_bad_value_in_the_configuration_is_refused():
    with pytest.raises(ValueError, match="incident"):
        RulesConfig(produces={"r": "page"})  # type: ignore[dict-item]
