"""What a rule author sees from `spanwatch rules check|test` when a rule file is wrong or empty."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from rules.cli import check
from rules.config import RulesConfig
from tests.rules.conftest import write

HINT = "`|re` is RE2: no lookarounds such as (?!...), no backreferences such as \\1"


def rule_with_regex(pattern: str, name: str = "regex-rule") -> str:
    quoted = pattern.replace("'", "''")
    return (
        f"title: regex rule\nname: {name}\nlevel: high\nlogsource: {{product: test}}\n"
        f"detection:\n  sel:\n    command|re: '{quoted}'\n  condition: sel\n"
    )


def spanwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, timeout=120
    )


def check_output(*paths) -> tuple[int, str]:
    out = io.StringIO()
    code = check([str(p) for p in paths], config=RulesConfig(), known_fields=(), out=out)
    return code, out.getvalue()


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("curl (?!localhost)", "invalid perl operator: (?!"),
        ("(?<=token=)[a-z]+", "invalid perl operator: (?<="),
        ("(?<!-)rf", "invalid perl operator: (?<!"),
        ("(['\"]).*\\1", "invalid escape sequence: \\1"),
        ("a*+", "bad repetition operator: *+"),
        ("rm -[rf", "missing ]: [rf"),
        ("x{2,1}", "invalid repetition size: {2,1}"),
    ],
)
def test_a_regex_re2_refuses_is_one_line_with_file_rule_field_reason_and_hint(
    tmp_path, pattern, reason
):
    path = write(tmp_path, "rule.yml", rule_with_regex(pattern))
    code, text = check_output(path)
    assert code == 2
    first = text.splitlines()[0]
    assert first == (
        f"{path}:7 error: [regex-rule] detection.sel.command|re: "
        f"invalid regular expression '{pattern}': {reason} ({HINT})"
    )
    assert "b'" not in text and 'b"' not in text


def test_re2_writes_nothing_of_its_own_to_stderr(tmp_path):
    path = write(tmp_path, "rule.yml", rule_with_regex("curl (?!localhost)"))
    done = spanwatch("rules", "check", str(path))
    assert done.returncode == 2
    assert "invalid perl operator" in done.stdout
    assert done.stderr == ""  # RE2's C++ logger (absl) is off


def test_replay_with_a_bad_regex_stops_with_the_same_line_and_no_traceback(tmp_path):
    path = write(tmp_path, "rule.yml", rule_with_regex("(a)\\1"))
    history = tmp_path / "history.jsonl"
    history.write_text('{"time": 1764316800, "name": "shell.run", "command": "ls"}\n')
    done = spanwatch("replay", str(history), "--rules", str(path), "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert f"{path}:7 error: [regex-rule] detection.sel.command|re:" in done.stderr
    assert HINT in done.stderr
    assert "Traceback" not in done.stderr and "re2.cc" not in done.stderr


def test_an_empty_rule_file_is_reported_and_checking_no_rules_fails(tmp_path):
    empty = write(tmp_path, "empty.yml", "# nothing here yet\n")
    done = spanwatch("rules", "check", str(empty))
    assert done.returncode == 2
    assert f"{empty} warning: no rule in this file" in done.stdout
    assert f"error: no rules found in {empty}" in done.stdout


def test_an_empty_file_beside_real_rules_is_a_warning(tmp_path):
    write(tmp_path, "real.yml", rule_with_regex("curl .* \\| *sh"))
    write(tmp_path, "later.yaml", "")
    code, text = check_output(tmp_path)
    assert code == 0
    assert f"{tmp_path / 'later.yaml'} warning: no rule in this file" in text
    assert "ok: 1 detection and 0 correlation rules in 1 file(s), 1 warning(s)" in text


PIPE_TEST = """\
tests:
  - name: pipe to shell is caught
    events: [{command: 'curl x | sh', user: al}]
    expect: [{rule: pipe, group: {user: al}, count: 1}]
"""


def test_rule_tests_use_the_rules_beside_them_not_those_in_subdirectories(tmp_path):
    write(
        tmp_path,
        "pipe.yml",
        rule_with_regex("\\| *sh", name="pipe").replace("sel:\n", "sel:\n    user|exists: true\n"),
    )
    write(tmp_path, "pipe.test.yml", PIPE_TEST)
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    # A fixture that would also fire on the same event if it were loaded.
    write(fixtures, "anything-curl.yml", rule_with_regex("curl", name="fixture-curl"))
    done = spanwatch("rules", "test", str(tmp_path))
    assert done.returncode == 0, done.stdout
    assert "1 rule tests, 0 failed" in done.stdout
    assert "fixture-curl" not in done.stdout


def test_rule_tests_in_subdirectories_still_run_against_their_own_rules(tmp_path):
    team = tmp_path / "team-a"
    team.mkdir()
    write(team, "pipe.yml", rule_with_regex("\\| *sh", name="pipe"))
    write(team, "pipe.test.yml", PIPE_TEST)
    write(tmp_path, "curl.yml", rule_with_regex("curl", name="top-curl"))
    done = spanwatch("rules", "test", str(tmp_path))
    assert done.returncode == 0, done.stdout
    assert f"PASS {team / 'pipe.test.yml'}:2 pipe to shell is caught" in done.stdout


def test_a_failing_rule_test_names_the_rules_it_loaded(tmp_path):
    rule = write(tmp_path, "pipe.yml", rule_with_regex("\\| *bash", name="pipe"))
    write(tmp_path, "pipe.test.yml", PIPE_TEST)
    done = spanwatch("rules", "test", str(tmp_path))
    assert done.returncode == 1
    assert f"rules under test: {rule}" in done.stdout
