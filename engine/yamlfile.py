"""YAML with line numbers, so that every configuration error can say file:line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from engine.config_hints import explain


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{place}: {self.where}: {self.message}" if self.where else f"{place}: {self.message}"
        )


M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    """A configuration that cannot be used; carries every problem found."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class LineIndex:
    """Path of keys/indexes in a YAML document -> the line (1-based) where it stands."""

    def __init__(self, root: yaml.Node | None) -> None:
        self._lines: dict[tuple[Any, ...], int] = {}
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: tuple[Any, ...]) -> None:
        self._lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                self._lines[(*path, key)] = key_node.start_mark.line + 1
                self._walk(value_node, (*path, key))
                self._lines[(*path, key)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, (*path, i))

    def line(self, path: Sequence[Any]) -> int | None:
        """The line of the longest prefix of `path` that exists in the document."""
        key = tuple(str(p) if not isinstance(p, int) else p for p in path)
        while key:
            if key in self._lines:
                return self._lines[key]
            key = key[:-1]
        return self._lines.get(())


MAX_ALIAS_EXPANSION = 10_000  # nodes that aliases may add to a document (an alias bomb: 10^9)


def _text(path: str | Path) -> str:
    """The file as UTF-8 text; binary or undecodable files are refused with the line."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem(name, None, "", f"cannot read: {exc.strerror or exc}")]
        ) from None
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise ConfigError(
            [ConfigProblem(name, line, "", "a binary file, not YAML text (a NUL byte)")]
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        reason = f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        raise ConfigError([ConfigProblem(name, line, "", reason)]) from None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def alias_expansion(root: yaml.Node) -> int:
    """How many nodes the document holds once every alias is expanded, minus the nodes
    written (0 without aliases). Iterative, so deep documents need no recursion; ValueError
    for an alias that contains itself."""
    sizes: dict[int, int] = {}
    written: set[int] = set()
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in _children(node))
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise ValueError(f"an alias contains itself (line {node.start_mark.line + 1})")
        on_path.add(key)
        written.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    return sizes[id(root)] - len(written)


def read_yaml(path: str | Path) -> tuple[Any, LineIndex]:
    """Parse a YAML file; a syntax error becomes a ConfigError with its line, and so do
    binary files, non-UTF-8 text, documents nested too deeply and aliases that would expand
    past MAX_ALIAS_EXPANSION nodes (memory, before anything is built from them)."""
    name = str(path)
    text = _text(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is not None:
            try:
                added = alias_expansion(root)
            except ValueError as exc:
                raise ConfigError([ConfigProblem(name, None, "", f"invalid YAML: {exc}")]) from None
            if added > MAX_ALIAS_EXPANSION:
                reason = (
                    f"YAML aliases expand the document by {added} nodes, over the limit of "
                    f"{MAX_ALIAS_EXPANSION}: write the repeated parts out"
                )
                raise ConfigError([ConfigProblem(name, _first_alias_line(text), "", reason)])
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem(name, line, "", f"invalid YAML: {reason}")]) from None
    except RecursionError:
        raise ConfigError(
            [ConfigProblem(name, None, "", "invalid YAML: nested too deeply")]
        ) from None
    return data, LineIndex(root)


def _first_alias_line(text: str) -> int | None:
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, yaml.AliasToken):
            line: int = token.start_mark.line
            return line + 1
    return None


def validate(model: type[M], data: Any, index: LineIndex, file: str) -> M:
    """Validate with pydantic; every error becomes a ConfigProblem with file, line and field path."""
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc: list[int | str] = []
            for part in err["loc"]:
                if isinstance(part, str) and part.startswith("function-"):
                    continue
                if loc and part == loc[-1]:  # a section that is its own list (detectors)
                    continue
                loc.append(part)
            where = ".".join(str(p) for p in loc)
            problems.append(ConfigProblem(file, index.line(loc), where, explain(model, err)))
        raise ConfigError(sorted(problems, key=lambda p: p.line or 0)) from None
