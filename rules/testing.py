"""Rule unit tests (`spanwatch rules test`): events in, expected incidents out, like promtool.

A test file (`*.test.yml`) sits beside the rules it tests:

    rules: [cost.yml]              # optional; default: the rule files beside this one
                                   # (not those in subdirectories)
    config: {values: {user_hourly_cost_budget_usd: 5}}   # optional overrides
    tests:
      - name: a runaway agent goes over budget
        events:                    # or `history: events.jsonl` (one flat event per line)
          - {time: 2026-01-05T10:00:00Z, name: claude.invoke, user: alice, cost: 4}
          - {name: claude.invoke, user: alice, cost: 1, repeat: 3, every: 1m}
        expect:
          - {rule: user-hourly-cost, group: {user: alice}, count: 2}
      - name: within budget
        events: [...]
        expect: none

Events without `time` follow the previous one by one second (the first starts at
2026-01-05T09:00:00Z). `repeat: N` copies an event N times, `every` apart, with `{i}` in
string values replaced by 0..N-1. Every incident the rule set raises must be expected: the
count is the number of hits for that rule and group.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .config import RulesConfig
from .correlation import CorrelationState
from .loader import RuleDoc, read_yaml_documents
from .model import RuleHit, RuleProblem
from .ruleset import RuleSet, build_ruleset
from .timeutil import iso, parse_duration, parse_time

DEFAULT_START = parse_time("2026-01-05T09:00:00Z")
TEST_SUFFIXES = (".test.yml", ".test.yaml")
RULE_SUFFIXES = (".yml", ".yaml")
ADVANCE_EVERY = 256


class TestFileError(ValueError):
    """A malformed test file; `line` says where."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Expected:
    rule: str
    group: tuple[tuple[str, str], ...] | None
    count: int | None

    def describe(self) -> str:
        group = "any group" if self.group is None else _fmt_group(dict(self.group))
        count = "" if self.count is None else f" count={self.count}"
        return f"{self.rule} {group}{count}"


@dataclass
class RuleTest:
    name: str
    line: int
    events: list[dict[str, Any]]
    expected: list[Expected]


@dataclass
class TestOutcome:
    file: str
    name: str
    line: int
    diff: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.diff


# --- running ----------------------------------------------------------------------------------


def run_events(ruleset: RuleSet, events: Iterable[Mapping[str, Any]]) -> list[RuleHit]:
    """Every hit the rule set raises over `events`, in event-time order, without Bytewax."""
    ordered = sorted(events, key=lambda e: _time_key(e.get("time")))
    states: dict[str, CorrelationState] = {
        cid: ruleset.new_correlation_state(cid) for cid in ruleset.correlation_ids
    }
    hits: list[RuleHit] = []
    for n, event in enumerate(ordered, 1):
        found, inputs = ruleset.evaluate(event)
        hits.extend(found)
        for inp in inputs:
            hits.extend(states[inp.correlation_id].update(inp))
        if n % ADVANCE_EVERY == 0:
            for state in states.values():
                hits.extend(state.advance(_time_key(event.get("time"))))
    return hits


def _time_key(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return -math.inf


def compare(expected: list[Expected], hits: list[RuleHit]) -> list[str]:
    """A readable diff: `-` for expected incidents not raised, `+` for unexpected ones."""
    actual = Counter((h.rule_id, tuple(sorted(h.group.items()))) for h in hits)
    diff: list[str] = []
    claimed: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for exp in expected:
        keys = [k for k in actual if k[0] == exp.rule and (exp.group is None or k[1] == exp.group)]
        if not keys:
            diff.append(f"- {exp.describe()}")
            others = [k for k in actual if k[0] == exp.rule]
            for key in others:
                diff.append(f"+ {key[0]} {_fmt_group(dict(key[1]))} count={actual[key]}")
                claimed.add(key)
            continue
        total = sum(actual[k] for k in keys)
        claimed.update(keys)
        if exp.count is not None and total != exp.count:
            diff.append(f"- {exp.describe()}")
            for key in keys:
                diff.append(f"+ {key[0]} {_fmt_group(dict(key[1]))} count={actual[key]}")
    for key, count in actual.items():
        if key not in claimed:
            diff.append(f"+ {key[0]} {_fmt_group(dict(key[1]))} count={count} (unexpected)")
    return diff


def _fmt_group(group: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in sorted(group.items())) + "}"


# --- test files -------------------------------------------------------------------------------


def discover_test_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[RuleProblem]]:
    files: list[Path] = []
    problems: list[RuleProblem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(TEST_SUFFIXES))
            )
        elif path.is_file():
            files.append(path)
        else:
            problems.append(
                RuleProblem(str(path), None, None, None, "no such test file or directory")
            )
    return list(dict.fromkeys(files)), problems


def sibling_rule_files(test_file: Path) -> list[Path]:
    """The rules a test file tests by default: the rule files beside it, not in subdirectories.

    Subdirectories often hold fixtures or another team's rules, whose incidents would show
    up as unexpected in every test of this directory.
    """
    return sorted(
        p
        for p in test_file.parent.iterdir()
        if p.is_file() and p.suffix in RULE_SUFFIXES and not p.name.endswith(TEST_SUFFIXES)
    )


@dataclass
class TestFile:
    path: Path
    rule_paths: list[Path]
    overrides: dict[str, Any]
    tests: list[RuleTest]


def parse_test_file(path: Path) -> TestFile:
    """Read one test file; raises TestFileError with the line of the problem."""
    docs, problems = read_yaml_documents(path)
    if problems:
        raise TestFileError(problems[0].message, problems[0].line)
    if len(docs) != 1 or not isinstance(docs[0][1], dict):
        raise TestFileError("a test file must be one YAML mapping with a `tests:` list", 1)
    node, data = docs[0]
    doc = RuleDoc(path, node.start_mark.line + 1, node, data)
    unknown = set(data) - {"rules", "config", "tests"}
    if unknown:
        key = sorted(unknown)[0]
        raise TestFileError(f"unknown key {key!r} (use rules, config, tests)", doc.line_of(key))
    rules = data.get("rules")
    if rules is None:
        rule_paths = sibling_rule_files(path)
    elif isinstance(rules, list) and all(isinstance(r, str) for r in rules):
        rule_paths = [(path.parent / r) for r in rules]
    else:
        raise TestFileError("`rules` must be a list of paths", doc.line_of("rules"))
    overrides = data.get("config") or {}
    if not isinstance(overrides, dict):
        raise TestFileError("`config` must be a mapping", doc.line_of("config"))
    tests_raw = data.get("tests")
    if not isinstance(tests_raw, list) or not tests_raw:
        raise TestFileError("`tests` must be a non-empty list", doc.line_of("tests"))
    tests = [_parse_test(doc, i, raw) for i, raw in enumerate(tests_raw)]
    return TestFile(path, rule_paths, overrides, tests)


def _parse_test(doc: RuleDoc, index: int, raw: Any) -> RuleTest:
    line = doc.line_of("tests", index)
    if not isinstance(raw, dict):
        raise TestFileError("each test must be a mapping with name, events and expect", line)
    name = str(raw.get("name") or f"test {index + 1}")
    if "events" in raw and "history" in raw:
        raise TestFileError("give either `events` or `history`, not both", line)
    if "history" in raw:
        events = _read_history(doc.path.parent / str(raw["history"]), line)
    elif isinstance(raw.get("events"), list):
        events = _expand_events(raw["events"], doc.line_of("tests", index, "events"))
    else:
        raise TestFileError("a test needs `events` (a list) or `history` (a file)", line)
    if "expect" not in raw:
        raise TestFileError("a test needs `expect` (a list, or `none`)", line)
    expected = _parse_expect(raw["expect"], doc.line_of("tests", index, "expect"))
    return RuleTest(name, line, events, expected)


def _expand_events(raw_events: list[Any], line: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    clock = DEFAULT_START - 1.0
    for raw in raw_events:
        if not isinstance(raw, dict):
            raise TestFileError("each event must be a mapping of field to value", line)
        spec = dict(raw)
        try:
            repeat = int(spec.pop("repeat", 1))
            every = parse_duration(spec.pop("every", 1))
            if "time" in spec:
                clock = parse_time(_scalar_time(spec.pop("time")))
            else:
                clock += 1.0
        except (TypeError, ValueError) as exc:
            raise TestFileError(str(exc), line) from exc
        for i in range(repeat):
            event = {k: _fill(v, i) for k, v in spec.items()}
            event["time"] = clock + i * every
            events.append(event)
        clock += (repeat - 1) * every
    return events


def _scalar_time(value: Any) -> Any:
    if hasattr(value, "timestamp"):  # YAML turns unquoted timestamps into datetimes
        import datetime as dt

        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    return value


def _fill(value: Any, i: int) -> Any:
    return value.replace("{i}", str(i)) if isinstance(value, str) else value


def _read_history(path: Path, line: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TestFileError(f"cannot read history {path}: {exc}", line) from exc
    for n, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            event = json.loads(text)
            if not isinstance(event, dict):
                raise ValueError("not a JSON object")
            event["time"] = parse_time(event["time"])
        except (ValueError, KeyError, TypeError) as exc:
            raise TestFileError(f"{path}:{n}: bad event: {exc}", line) from exc
        events.append(event)
    return events


def _parse_expect(raw: Any, line: int) -> list[Expected]:
    if raw is None or raw == "none" or raw == []:
        return []
    if not isinstance(raw, list):
        raise TestFileError("`expect` must be a list of incidents or `none`", line)
    out: list[Expected] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("rule"), str):
            raise TestFileError("each expected incident needs `rule` (and group, count)", line)
        unknown = set(item) - {"rule", "group", "count"}
        if unknown:
            raise TestFileError(f"unknown key {sorted(unknown)[0]!r} in an expectation", line)
        group = item.get("group")
        if group is not None and not isinstance(group, dict):
            raise TestFileError("`group` must be a mapping of label to value", line)
        count = item.get("count")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise TestFileError("`count` must be a whole number", line)
        out.append(
            Expected(
                item["rule"],
                None
                if group is None
                else tuple(sorted((str(k), "" if v is None else str(v)) for k, v in group.items())),
                count,
            )
        )
    return out


# --- the command -------------------------------------------------------------------------------


def merged_config(base: RulesConfig, overrides: Mapping[str, Any]) -> RulesConfig:
    """`base` with a test file's overrides; lists, values and aliases merge key by key."""
    data = base.model_dump()
    for key, value in overrides.items():
        if key in ("lists", "values", "aliases") and isinstance(value, dict):
            data[key] = {**data.get(key, {}), **value}
        else:
            data[key] = value
    return RulesConfig.model_validate(data)


def run_test_files(
    paths: Iterable[str | Path],
    config: RulesConfig,
    known_fields: Collection[str] | None,
    out: TextIO,
    *,
    prepare_event: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    prepare_config: Callable[[RulesConfig], RulesConfig] | None = None,
) -> int:
    """Run every test under `paths`; 0 all passed, 1 a test failed, 2 rules or tests broken.

    `prepare_event` and `prepare_config` let the caller treat test events and a test file's
    configuration as its decoder treats telemetry and configuration (the engine fills
    canonical keys from their aliases and gives models their canonical names), so a test may
    be written with the attribute names and model spellings the telemetry really carries.
    """
    files, problems = discover_test_files(paths)
    if not files and not problems:
        out.write("no rule tests (*.test.yml) found\n")
        return 2
    cache: _RuleSetCache = {}
    outcomes: list[TestOutcome] = []
    for problem in problems:
        out.write(f"{problem}\n")
    broken = bool(problems)
    for path in files:
        loaded = _load_test_file(path, config, prepare_config, out)
        if loaded is None:
            broken = True
            continue
        test_file, cfg = loaded
        ruleset = _ruleset_for(test_file, cfg, known_fields, cache, out)
        if ruleset is None:
            out.write(f"{path}: error: the rules under test do not load (see above)\n")
            broken = True
            continue
        outcomes.extend(_run_tests(path, test_file, ruleset, prepare_event, out))
    failed = sum(1 for o in outcomes if not o.passed)
    out.write(f"{len(outcomes)} rule tests, {failed} failed\n")
    return 2 if broken else 1 if failed else 0


# Rule sets built for test files, by their rule paths and configuration: many files share one.
_RuleSetCache = dict[tuple[Any, ...], tuple[RuleSet | None, list[RuleProblem]]]


def _load_test_file(
    path: Path,
    config: RulesConfig,
    prepare_config: Callable[[RulesConfig], RulesConfig] | None,
    out: TextIO,
) -> tuple[TestFile, RulesConfig] | None:
    """The test file and the configuration its rules load with (None: reported as broken)."""
    try:
        test_file = parse_test_file(path)
        cfg = merged_config(config, test_file.overrides)
        if prepare_config is not None:
            cfg = prepare_config(cfg)
    except TestFileError as exc:
        out.write(f"{path}:{exc.line or 1}: error: {exc}\n")
        return None
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        out.write(f"{path}:1: error: config: {exc}\n")
        return None
    return test_file, cfg


def _ruleset_for(
    test_file: TestFile,
    cfg: RulesConfig,
    known_fields: Collection[str] | None,
    cache: _RuleSetCache,
    out: TextIO,
) -> RuleSet | None:
    """The rules under test, built (and their problems written) once per paths and config."""
    key = (tuple(str(p) for p in test_file.rule_paths), cfg.model_dump_json())
    if key not in cache:
        cache[key] = build_ruleset(test_file.rule_paths, cfg, known_fields)
        for problem in cache[key][1]:
            out.write(f"{problem}\n")
    return cache[key][0]


def _run_tests(
    path: Path,
    test_file: TestFile,
    ruleset: RuleSet,
    prepare_event: Callable[[dict[str, Any]], dict[str, Any]] | None,
    out: TextIO,
) -> list[TestOutcome]:
    outcomes = []
    for test in test_file.tests:
        outcome = TestOutcome(str(path), test.name, test.line)
        events = test.events
        if prepare_event is not None:
            events = [prepare_event(dict(e)) for e in events]
        outcome.diff = compare(test.expected, run_events(ruleset, events))
        outcomes.append(outcome)
        _report(outcome, test, test_file.rule_paths, out)
    return outcomes


def _report(outcome: TestOutcome, test: RuleTest, rule_paths: list[Path], out: TextIO) -> None:
    if outcome.passed:
        out.write(f"PASS {outcome.file}:{outcome.line} {outcome.name}\n")
        return
    out.write(f"FAIL {outcome.file}:{outcome.line} {outcome.name}\n")
    out.write("     (- expected but not raised, + raised but not expected)\n")
    for line in outcome.diff:
        out.write(f"     {line}\n")
    if test.events:
        first, last = test.events[0].get("time"), test.events[-1].get("time")
        if isinstance(first, float) and isinstance(last, float):
            out.write(f"     over {len(test.events)} events from {iso(first)} to {iso(last)}\n")
    out.write(f"     rules under test: {', '.join(str(p) for p in rule_paths) or 'none'}\n")
