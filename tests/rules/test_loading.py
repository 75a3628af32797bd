"""Loading and `rules check`: every problem reported with file, line, rule and field."""

from __future__ import annotations

import io

import pytest

from rules.cli import check
from rules.config import RulesConfig
from rules.model import RuleLoadError
from rules.ruleset import RuleSet
from tests.rules.conftest import write

BROKEN = """\
title: good rule
name: good
level: high
logsource: {product: test}
detection:
  sel:
    command|contains: x
  condition: sel
---
title: broken rule
name: broken
level: severe
logsource: {product: test}
detection:
  sel:
    command|nosuchmodifier: x
  other:
    command|re: '(unclosed'
  condition: sel or other
---
title: broken correlation
name: broken-corr
correlation:
  type: event_count
  rules: [does-not-exist]
  group-by: [user]
  timespan: 10x
  condition: {gte: 3}
"""


def run_check(paths, known=("command", "user")) -> tuple[int, str]:
    out = io.StringIO()
    code = check([str(p) for p in paths], config=RulesConfig(), known_fields=known, out=out)
    return code, out.getvalue()


def test_check_reports_every_problem_with_file_line_rule_and_field(tmp_path):
    path = write(tmp_path, "broken.yml", BROKEN)
    code, text = run_check([path])
    assert code == 2
    assert f"{path}:12 error: [broken] level:" in text
    assert (
        f"{path}:16 error: [broken] detection.sel.command|nosuchmodifier: Unknown modifier" in text
    )
    assert f"{path}:18 error: [broken] detection.other.command|re:" in text
    assert f"{path}:27 error: [broken-corr] correlation.timespan:" in text


def test_unresolved_rule_reference_is_reported_at_the_rules_key(tmp_path):
    text = BROKEN.split("---\n")[0] + "---\n" + BROKEN.split("---\n")[2].replace("10x", "10m")
    path = write(tmp_path, "ref.yml", text)
    code, out = run_check([path])
    assert code == 2
    assert f"{path}:14 error: [broken-corr] correlation.rules:" in out
    assert "does-not-exist" in out


def test_load_raises_rule_load_error_carrying_all_problems(tmp_path):
    path = write(tmp_path, "broken.yml", BROKEN)
    with pytest.raises(RuleLoadError) as caught:
        RuleSet.load([path])
    errors = [p for p in caught.value.problems if p.severity == "error"]
    assert len(errors) >= 4
    assert all(p.file == str(path) and p.line for p in errors)


def test_unknown_fields_are_warnings_and_do_not_fail_check(tmp_path):
    path = write(
        tmp_path,
        "fields.yml",
        """\
        title: t
        name: t
        level: low
        logsource: {product: test}
        detection:
          sel:
            comand|contains: x
            exit_code: 1
          condition: sel
        """,
    )
    code, text = run_check([path])
    assert code == 0
    assert f"{path}:7 warning: [t] detection.sel.comand|contains: unknown field 'comand'" in text
    assert "exit_code" not in text  # a documented span attribute


def test_invalid_yaml_and_duplicate_keys_name_the_line(tmp_path):
    bad = write(tmp_path, "bad.yml", "title: x\ndetection: [unclosed\n")
    dup = write(tmp_path, "dup.yml", "title: x\ntitle: y\n")
    code, text = run_check([bad, dup])
    assert code == 2
    assert f"{bad}:3 error: invalid YAML" in text
    assert f"{dup}:2 error: title: duplicate key 'title'" in text


def test_unknown_placeholders_and_values_are_errors(tmp_path):
    path = write(
        tmp_path,
        "refs.yml",
        """\
        title: t
        name: t
        level: low
        logsource: {product: test}
        detection:
          sel:
            model|expand: '%no_such_list%'
          condition: sel
        ---
        title: c
        name: c
        correlation:
          type: event_count
          rules: [t]
          group-by: [user]
          timespan: 1h
          condition: {gt: '%no_such_value%'}
        """,
    )
    code, text = run_check([path])
    assert code == 2
    assert (
        f"{path}:7 error: [t] detection.sel.model|expand: unknown placeholder %no_such_list%"
        in text
    )
    assert f"{path}:17 error: [c] correlation.condition.gt: unknown value %no_such_value%" in text


def test_bad_spanwatch_attribute_is_reported(tmp_path):
    path = write(
        tmp_path,
        "ext.yml",
        """\
        title: t
        name: t
        level: low
        logsource: {product: test}
        detection:
          sel: {x: 1}
          condition: sel
        spanwatch:
          resolve-after: soon
          colour: red
          noise-budget: -3
        """,
    )
    code, text = run_check([path])
    assert code == 2
    assert "spanwatch.resolve-after" in text
    assert "spanwatch.colour" in text
    assert "spanwatch.noise-budget" in text and "whole number of incidents" in text


def test_duplicate_rule_ids_are_refused(tmp_path):
    rule = "title: t\nname: same\nlevel: low\nlogsource: {product: x}\ndetection: {s: {x: 1}, condition: s}\n"
    write(tmp_path, "a.yml", rule)
    write(tmp_path, "b.yml", rule)
    code, text = run_check([tmp_path])
    assert code == 2
    assert "rule id 'same' is already used" in text


def test_global_filter_adds_an_exception_to_many_rules(tmp_path):
    write(
        tmp_path,
        "rules.yml",
        """\
        title: a
        name: a
        level: low
        logsource: {product: claude_code}
        detection: {s: {command|contains: rm}, condition: s}
        ---
        title: b
        name: b
        level: low
        logsource: {product: claude_code}
        detection: {s: {command|contains: curl}, condition: s}
        """,
    )
    write(
        tmp_path,
        "filter.yml",
        """\
        title: the CI bot is allowed
        name: ci-bot-exception
        logsource: {product: claude_code}
        filter:
          rules: any
          bot:
            user: ci-bot
          condition: not bot
        """,
    )
    ruleset = RuleSet.load([tmp_path])
    assert len(ruleset.evaluate({"user": "al", "command": "rm x; curl y"})[0]) == 2
    assert ruleset.evaluate({"user": "ci-bot", "command": "rm x; curl y"})[0] == []


def test_one_or_many_rules_per_file_and_directories_load(tmp_path):
    (tmp_path / "sub").mkdir()
    write(
        tmp_path / "sub",
        "one.yml",
        "title: t\nname: one\nlevel: low\nlogsource: {product: x}\ndetection: {s: {x: 1}, condition: s}\n",
    )
    write(
        tmp_path,
        "two.yaml",
        "title: t\nname: two\nlevel: low\nlogsource: {product: x}\ndetection: {s: {x: 1}, condition: s}\n---\ntitle: u\nname: three\nlevel: low\nlogsource: {product: x}\ndetection: {s: {x: 2}, condition: s}\n",
    )
    write(tmp_path, "two.test.yml", "tests: []\n")  # test files are not rules
    ruleset = RuleSet.load([tmp_path])
    assert sorted(ruleset.rule_ids) == ["one", "three", "two"]


def test_default_rule_set_is_the_claude_code_pack():
    ruleset = RuleSet.load([])
    assert "unapproved-model" in ruleset.rule_ids
    assert "user-error-burst" in ruleset.correlation_ids
    assert ruleset.problems == []


def test_a_budget_left_off_runs_no_rule_and_a_configured_one_does():
    assert "user-hourly-cost-over-budget" not in RuleSet.load([]).correlation_ids
    configured = RulesConfig(values={"user_hourly_cost_budget_usd": 40})
    ruleset = RuleSet.load([], configured)
    assert "user-hourly-cost-over-budget" in ruleset.correlation_ids
    assert "team-hourly-token-burn" not in ruleset.correlation_ids
    assert ruleset.problems == []


RULE = """\
title: pipe
name: pipe
level: high
logsource: {product: test}
detection: {sel: {command|contains: "| sh"}, condition: sel}
"""


def test_a_rule_file_over_the_size_limit_is_refused_unread(tmp_path):
    small = write(tmp_path, "small.yml", RULE)
    big = write(tmp_path, "big.yml", RULE + "".join(f"# padding {i}\n" for i in range(400)))
    config = RulesConfig(packs=[], max_file_bytes=2048)
    out = io.StringIO()
    assert check([str(small), str(big)], config=config, known_fields={"command"}, out=out) == 2
    assert (
        f"{big} error: rule file of {big.stat().st_size} bytes is over the limit of 2048 bytes"
        in out.getvalue()
    )
    assert str(small) not in out.getvalue()
    with pytest.raises(RuleLoadError):
        RuleSet.load([str(small), str(big)], config)
    assert RuleSet.load([str(small)], config).rule_ids


def test_nesting_too_deep_for_the_parser_is_a_problem_not_a_crash(tmp_path):
    deep = write(tmp_path, "deep.yml", "title: x\ndetection: " + "[" * 3000 + "]" * 3000 + "\n")
    code, text = run_check([deep])
    assert code == 2 and f"{deep}" in text and "invalid YAML" in text


def test_dedup_is_for_correlations_on_key_fields(tmp_path):
    path = write(
        tmp_path,
        "dedup.yml",
        """\
        title: t
        name: t
        level: low
        logsource: {product: test}
        detection:
          sel: {x: 1}
          condition: sel
        spanwatch:
          dedup: {by: session, prefer: {name: claude.invoke}}
        ---
        title: c
        name: c
        level: low
        correlation:
          type: event_count
          rules: [t]
          group-by: [user]
          timespan: 1h
          condition: {gte: 2}
        spanwatch:
          dedup: {by: prompt, prefer: {model: x}}
        """,
    )
    code, text = run_check([path])
    assert code == 2
    assert "`dedup` is for correlation rules" in text
    assert "spanwatch.dedup.by" in text and "spanwatch.dedup.prefer" in text


def test_a_global_mapping_over_a_rule_scalar_is_merged_not_a_crash(tmp_path):
    # Sigma's collections write a `global` document over each rule, mapping into mapping;
    # a rule that spells the same key as a scalar takes the global's mapping whole.
    path = write(
        tmp_path,
        "global.yml",
        """\
        action: global
        logsource: {product: test}
        detection:
          sel:
            command|contains: x
          condition: sel
        ---
        title: t
        name: t
        level: low
        detection: not a mapping
        ---
        action: repeat
        name: t2
        title: t2
        logsource: plain
        """,
    )
    code, text = run_check([path])
    assert code == 2
    assert "[t]" not in text  # the global's detection replaced the scalar
    # a `repeat` starts from the rule as written, so its scalars are reported, not a crash
    assert f"{path}:13 error: [t2] detection: Sigma detection must be a valid YAML map" in text
    assert f"{path}:16 error: [t2] logsource: Sigma logsource must be a valid YAML map" in text


def test_yaml_aliases_that_explode_or_loop_are_problems_and_ordinary_ones_load(tmp_path):
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, n in zip("abcde", "bcdef", strict=True)
    )
    bomb = write(tmp_path, "bomb.yml", "title: t\nname: t\nlevel: low\n" + laughs)
    loop = write(tmp_path, "loop.yml", "title: t\nname: l\nlevel: low\nx: &l [1, *l]\n")
    code, text = run_check([bomb, loop])
    assert code == 2
    assert f"{bomb}:1 error:" in text and "too many nodes" in text
    assert f"{loop}:1 error:" in text and "refers to itself" in text
    shared = write(
        tmp_path,
        "shared.yml",
        """\
        title: shared list
        name: shared
        level: low
        logsource: {product: test}
        detection:
          one: {command|contains: &words [curl, wget]}
          two: {user|contains: *words}
          condition: one and two
        """,
    )
    assert RuleSet.load([shared], RulesConfig()).rule_ids == ["shared"]
