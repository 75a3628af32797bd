"""Read Sigma rule files into pySigma objects, remembering where every key was written.

pySigma stops at the first problem of a detection and knows only the file, so loading here
parses each YAML document with its node tree, checks every detection item on its own, and
turns each error into a `RuleProblem` with file, line, rule and field.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma import exceptions as sx
from sigma.correlations import SigmaCorrelationConditionOperator, SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.rule import SigmaDetectionItem, SigmaRule

from .config import RulesConfig
from .model import RuleProblem
from .regex import SIGMA_POLICY, RegexSyntaxError
from .yaml_aliases import alias_problem

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
VALUE_REF = re.compile(r"^%([A-Za-z0-9_.\-]+)%$")
COMPARE_MODIFIERS = {"gt", "gte", "lt", "lte"}
CONDITION_OPS = SigmaCorrelationConditionOperator.operators()
TEST_SUFFIXES = (".test.yml", ".test.yaml")
EMPTY_FILE_MESSAGE = "no rule in this file (it is empty or holds only comments)"

SigmaObject = SigmaRule | SigmaCorrelationRule | SigmaFilter


@dataclass
class RuleDoc:
    """One YAML document that defines a rule or filter, with its place in the file."""

    path: Path
    line: int
    node: yaml.Node
    data: dict[str, Any]
    obj: SigmaObject | None = None
    conditions: list[tuple[str, float]] = field(default_factory=list)  # correlation ranges
    switched_off: bool = False  # a correlation whose threshold is configured `off`

    @property
    def label(self) -> str:
        """How messages name the rule: its name, id or title."""
        for key in ("name", "id", "title"):
            value = self.data.get(key)
            if isinstance(value, str) and value:
                return value
        return "<untitled>"

    def line_of(self, *keys: str | int) -> int:
        """1-based line of the deepest existing key along `keys` (the document start if none)."""
        node, line = self.node, self.line
        for key in keys:
            child = _child(node, key)
            if child is None:
                break
            key_node, node = child
            line = key_node.start_mark.line + 1
        return line

    def problem(self, message: str, *keys: str | int, severity: str = "error") -> RuleProblem:
        where = ".".join(str(k) for k in keys) or None
        return RuleProblem(
            str(self.path), self.line_of(*keys), self.label, where, message, severity
        )


def _child(node: yaml.Node, key: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode) and isinstance(key, str):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
        item = node.value[key]
        return item, item
    return None


# --- files ----------------------------------------------------------------------------------


def discover_rule_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[RuleProblem]]:
    """Rule files under `paths` (files as given, directories recursively; `*.test.yml` skipped)."""
    files: list[Path] = []
    problems: list[RuleProblem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix in (".yml", ".yaml")
                and not p.name.endswith(TEST_SUFFIXES)
            )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(
                RuleProblem(str(path), None, None, None, "no such rule file or directory")
            )
    unique = list(dict.fromkeys(files))
    return unique, problems


MAX_FILE_BYTES = 1 << 20  # RulesConfig.max_file_bytes: the default pack's files are < 8 KB


def too_large(path: Path, max_bytes: int) -> RuleProblem | None:
    """A problem when the file is over `max_bytes` (it is then never read nor parsed)."""
    try:
        size = path.stat().st_size
    except OSError:
        return None  # reading it says why
    if size <= max_bytes:
        return None
    message = (
        f"rule file of {size} bytes is over the limit of {max_bytes} bytes "
        "(rules.max_file_bytes): split it, or raise the limit"
    )
    return RuleProblem(str(path), None, None, None, message)


def read_yaml_documents(
    path: Path, max_bytes: int = MAX_FILE_BYTES
) -> tuple[list[tuple[yaml.Node, Any]], list[RuleProblem]]:
    """Every document of a YAML file with its node tree; YAML errors become problems, and so
    does a file over `max_bytes` (refused before it is read)."""
    problem = too_large(path, max_bytes)
    if problem is not None:
        return [], [problem]
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [RuleProblem(str(path), None, None, None, f"cannot read: {exc}")]
    loader = _Loader(text)
    docs: list[tuple[yaml.Node, Any]] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            duplicates = _duplicate_keys(node)
            if duplicates:
                return docs, [
                    RuleProblem(str(path), line, None, key, f"duplicate key {key!r}")
                    for key, line in duplicates
                ]
            docs.append((node, loader.construct_document(node)))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        return docs, [RuleProblem(str(path), line, None, None, f"invalid YAML: {reason}")]
    except RecursionError:
        return docs, [RuleProblem(str(path), None, None, None, "invalid YAML: nested too deeply")]
    finally:
        loader.dispose()
    return docs, []


def _duplicate_keys(root: yaml.Node) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    if k.value in keys:
                        found.append((k.value, k.start_mark.line + 1))
                    keys.add(k.value)
                stack.append(v)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return found


# --- documents -> pySigma objects ---------------------------------------------------------------


def load_rule_docs(
    paths: Sequence[str | Path], config: RulesConfig
) -> tuple[list[RuleDoc], list[RuleProblem]]:
    """Parse every rule document under `paths`; return the documents and all problems found."""
    files, problems = discover_rule_files(paths)
    docs: list[RuleDoc] = []
    for path in files:
        docs.extend(_load_file(path, config, problems))
    return docs, problems


def _load_file(path: Path, config: RulesConfig, problems: list[RuleProblem]) -> list[RuleDoc]:
    """The rule documents of one file, each merged with the file's collection actions."""
    raw_docs, file_problems = read_yaml_documents(path, config.max_file_bytes)
    problems.extend(file_problems)
    if not file_problems and all(data is None for _node, data in raw_docs):
        problems.append(
            RuleProblem(str(path), None, None, None, EMPTY_FILE_MESSAGE, severity="warning")
        )
        return []
    actions = _CollectionActions()
    docs: list[RuleDoc] = []
    for node, data in raw_docs:
        line = node.start_mark.line + 1
        if data is None:
            continue
        problem = _unusable(path, line, data)
        if problem is not None:
            problems.append(problem)
            continue
        merged = actions.apply(path, line, data, problems)
        if merged is None:
            continue
        if _switched_off(merged, config):  # kept unparsed: its rules still feed nothing
            docs.append(RuleDoc(path, line, node, merged, switched_off=True))
            continue
        doc = RuleDoc(path, line, node, merged)
        problems.extend(_parse_doc(doc, config))
        docs.append(doc)
    return docs


def _unusable(path: Path, line: int, data: Any) -> RuleProblem | None:
    """Why a YAML document cannot be a rule at all (not a mapping, aliases that explode)."""
    if not isinstance(data, dict):
        return RuleProblem(str(path), line, None, None, "a rule document must be a YAML mapping")
    problem = alias_problem(data)
    return None if problem is None else RuleProblem(str(path), line, None, None, problem)


class _CollectionActions:
    """Sigma's collection actions within one file: `global` sets what the following rules
    start from, `reset` drops it, `repeat` is the previous rule with some keys changed."""

    def __init__(self) -> None:
        self.global_doc: dict[str, Any] = {}
        self.previous: dict[str, Any] = {}

    def apply(
        self, path: Path, line: int, data: dict[str, Any], problems: list[RuleProblem]
    ) -> dict[str, Any] | None:
        """The rule document `data` stands for, or None (an action, or an unknown one)."""
        action = data.get("action")
        if action == "global":
            self.global_doc = {k: v for k, v in data.items() if k != "action"}
            self.previous = copy.deepcopy(self.global_doc)
            return None
        if action == "reset":
            self.global_doc = {}
            return None
        if action == "repeat":
            changes = {k: v for k, v in data.items() if k != "action"}
            return _deep_update(copy.deepcopy(self.previous), changes)
        if action is not None:
            message = f"unknown collection action {action!r}"
            problems.append(RuleProblem(str(path), line, None, "action", message))
            return None
        if "correlation" in data or "filter" in data:
            return copy.deepcopy(data)
        self.previous = copy.deepcopy(data)
        return _deep_update(copy.deepcopy(data), copy.deepcopy(self.global_doc))


def _deep_update(dest: dict[str, Any], src: dict[str, Any]) -> dict[str, Any]:
    """`dest` with `src` written over it, mapping into mapping (as Sigma's collections merge
    a `global` or `repeat` document into a rule)."""
    for key, value in src.items():
        if isinstance(value, dict):
            below = dest.get(key)
            dest[key] = _deep_update(below if isinstance(below, dict) else {}, value)
        else:
            dest[key] = value
    return dest


def _parse_doc(doc: RuleDoc, config: RulesConfig) -> list[RuleProblem]:
    problems = _substitute_values(doc, config)
    data = copy.deepcopy(doc.data)
    source = SigmaRuleLocation(doc.path, doc.line)
    try:
        if "correlation" in data:
            problems.extend(_split_condition_range(doc, data))
            obj: SigmaObject = SigmaCorrelationRule.from_dict(
                data, collect_errors=True, source=source, policy=SIGMA_POLICY
            )
        elif "filter" in data:
            obj = SigmaFilter.from_dict(
                data, collect_errors=True, source=source, policy=SIGMA_POLICY
            )
        else:
            obj = SigmaRule.from_dict(data, collect_errors=True, source=source, policy=SIGMA_POLICY)
    except (SigmaError, TypeError, AttributeError) as exc:  # pySigma raises some despite collecting
        problem = doc.problem(
            _message(exc), *(_keys_for(exc, doc) if isinstance(exc, SigmaError) else ())
        )
        if not any(p.line == problem.line and p.field == problem.field for p in problems):
            problems.append(problem)
        return problems
    doc.obj = obj
    detailed = _detection_item_problems(doc) if "correlation" not in data else []
    for error in obj.errors:
        keys = _keys_for(error, doc)
        if detailed and keys and keys[0] in ("detection", "filter"):
            continue  # reported item by item below
        problems.append(doc.problem(_message(error), *keys))
    problems.extend(detailed)
    return problems


def _message(error: BaseException) -> str:
    if isinstance(error.__cause__, RegexSyntaxError):
        return error.__cause__.describe()
    if isinstance(error, SigmaError):
        return str(error.args[0]) if error.args else type(error).__name__
    return str(error)


_ERROR_KEYS: list[tuple[type[SigmaError], tuple[str, ...]]] = [
    (sx.SigmaTitleError, ("title",)),
    (sx.SigmaIdentifierError, ("id",)),
    (sx.SigmaNameError, ("name",)),
    (sx.SigmaLevelError, ("level",)),
    (sx.SigmaStatusError, ("status",)),
    (sx.SigmaDateError, ("date",)),
    (sx.SigmaModifiedError, ("modified",)),
    (sx.SigmaTagError, ("tags",)),
    (sx.SigmaLogsourceError, ("logsource",)),
    (sx.SigmaRelatedError, ("related",)),
    (sx.SigmaAuthorError, ("author",)),
    (sx.SigmaDescriptionError, ("description",)),
    (sx.SigmaFieldsError, ("fields",)),
    (sx.SigmaFalsePositivesError, ("falsepositives",)),
    (sx.SigmaReferencesError, ("references",)),
    (sx.SigmaTimespanError, ("correlation", "timespan")),
    (sx.SigmaCorrelationConditionError, ("correlation", "condition")),
    (sx.SigmaCorrelationTypeError, ("correlation", "type")),
    (sx.SigmaRuleNotFoundError, ("correlation", "rules")),
    (sx.SigmaCorrelationRuleError, ("correlation",)),
    (sx.SigmaFilterError, ("filter",)),
]


def _keys_for(error: SigmaError, doc: RuleDoc) -> tuple[str, ...]:
    for error_type, keys in _ERROR_KEYS:
        if isinstance(error, error_type):
            if keys == ("correlation",):
                text = _message(error).lower()
                for key in ("group-by", "aliases", "generate", "rules", "condition", "timespan"):
                    if key.replace("-", " ") in text or key in text:
                        return ("correlation", key)
            return keys
    if "filter" in doc.data:
        return ("filter",)
    if "correlation" in doc.data:
        return ("correlation",)
    if isinstance(error, sx.SigmaConditionError):
        return ("detection", "condition")
    return ("detection",)


def _detection_item_problems(doc: RuleDoc) -> list[RuleProblem]:
    """Check every detection item separately, so that all of them are reported."""
    section = "filter" if "filter" in doc.data else "detection"
    detection = doc.data.get(section)
    if not isinstance(detection, dict):
        return []
    problems: list[RuleProblem] = []
    for name, definition in detection.items():
        if name in ("condition", "rules"):
            continue
        items: list[tuple[tuple[Any, ...], Any, Any]]
        if isinstance(definition, dict):
            items = [((name, key), key, value) for key, value in definition.items()]
        elif isinstance(definition, list) and any(isinstance(d, dict) for d in definition):
            items = [
                ((name, i, key), key, value)
                for i, d in enumerate(definition)
                if isinstance(d, dict)
                for key, value in d.items()
            ]
        else:
            items = [((name,), None, definition)]
        for keys, key, value in items:
            if isinstance(value, dict):
                problems.append(
                    doc.problem("a detection value must be a scalar or a list", section, *keys)
                )
                continue
            try:
                SigmaDetectionItem.from_mapping(key, value, policy=SIGMA_POLICY)
            except SigmaError as exc:
                problems.append(doc.problem(_message(exc), section, *keys))
    return problems


# --- configuration references ---------------------------------------------------------------


def _switched_off(data: dict[str, Any], config: RulesConfig) -> bool:
    """Whether a correlation's threshold refers to a value configured as `off`: a budget the
    organisation has not set (a fixed hourly spend is its own fact) runs no rule at all."""
    correlation = data.get("correlation")
    condition = correlation.get("condition") if isinstance(correlation, dict) else None
    if not isinstance(condition, dict):
        return False
    for op in CONDITION_OPS:
        value = condition.get(op)
        match = VALUE_REF.match(value.strip()) if isinstance(value, str) else None
        if match is not None and str(config.values.get(match.group(1), "")).lower() == "off":
            return True
    return False


def _substitute_values(doc: RuleDoc, config: RulesConfig) -> list[RuleProblem]:
    """Replace `%name%` in thresholds with `rules.values.name` from the configuration."""
    problems: list[RuleProblem] = []
    resolve = _value_resolver(doc, config, problems)
    correlation = doc.data.get("correlation")
    if isinstance(correlation, dict) and isinstance(correlation.get("condition"), dict):
        condition = correlation["condition"]
        for op in list(condition):
            if op in CONDITION_OPS:
                condition[op] = resolve(condition[op], "correlation", "condition", op)
    for section in ("detection", "filter"):
        detection = doc.data.get(section)
        if isinstance(detection, dict):
            for mapping, keys in _selection_maps(detection):
                _substitute_compared(mapping, (section, *keys), resolve)
    return problems


_Resolve = Callable[..., Any]  # (value, *keys of where it is written) -> the value to use


def _value_resolver(doc: RuleDoc, config: RulesConfig, problems: list[RuleProblem]) -> _Resolve:
    """What a `%name%` value stands for; an unknown name is a problem at its keys."""

    def resolve(value: Any, *keys: str | int) -> Any:
        if not isinstance(value, str):
            return value
        match = VALUE_REF.match(value.strip())
        if match is None:
            return value
        name = match.group(1)
        if name not in config.values:
            problems.append(
                doc.problem(
                    f"unknown value %{name}% (define it under rules.values in the configuration)",
                    *keys,
                )
            )
            return value
        return config.values[name]

    return resolve


def _selection_maps(detection: dict[Any, Any]) -> list[tuple[dict[Any, Any], tuple[Any, ...]]]:
    """Each field mapping of a detection's selections, with the keys that lead to it."""
    maps: list[tuple[dict[Any, Any], tuple[Any, ...]]] = []
    for name, definition in detection.items():
        if isinstance(definition, dict):
            maps.append((definition, (name,)))
        elif isinstance(definition, list):
            maps.extend((d, (name, i)) for i, d in enumerate(definition) if isinstance(d, dict))
    return maps


def _substitute_compared(
    mapping: dict[Any, Any], where: tuple[Any, ...], resolve: _Resolve
) -> None:
    """Resolve the values of the mapping's fields that compare (`|gt`, `|lte`, ...)."""
    for key in list(mapping):
        modifiers = set(str(key).split("|")[1:])
        if not modifiers & COMPARE_MODIFIERS:
            continue
        value = mapping[key]
        if isinstance(value, list):
            mapping[key] = [resolve(v, *where, key) for v in value]
        else:
            mapping[key] = resolve(value, *where, key)


def _split_condition_range(doc: RuleDoc, data: dict[str, Any]) -> list[RuleProblem]:
    """Keep every operator of a range condition (`gte: 10, lt: 20`); pySigma accepts one."""
    condition = data.get("correlation", {}).get("condition")
    if not isinstance(condition, dict):
        return []
    ops = [op for op in condition if op in CONDITION_OPS]
    problems: list[RuleProblem] = []
    for op in ops:
        value = condition[op]
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue  # pySigma reports it
        doc.conditions.append((op, float(value)))
    for op in ops[1:]:
        del data["correlation"]["condition"][op]
    return problems
