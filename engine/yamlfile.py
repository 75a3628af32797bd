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
class Problem:
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

    def __init__(self, problems: Sequence[Problem]) -> None:
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


def read_yaml(path: str | Path) -> tuple[Any, LineIndex]:
    """Parse a YAML file; a syntax error becomes a ConfigError with its line."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [Problem(name, None, "", f"cannot read: {exc.strerror or exc}")]
        ) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([Problem(name, line, "", f"invalid YAML: {reason}")]) from None
    return data, LineIndex(root)


def validate(model: type[M], data: Any, index: LineIndex, file: str) -> M:
    """Validate with pydantic; every error becomes a Problem with file, line and field path."""
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc: list = []
            for part in err["loc"]:
                if isinstance(part, str) and part.startswith("function-"):
                    continue
                if loc and part == loc[-1]:  # a section that is its own list (detectors)
                    continue
                loc.append(part)
            where = ".".join(str(p) for p in loc)
            problems.append(Problem(file, index.line(loc), where, explain(model, err)))
        raise ConfigError(sorted(problems, key=lambda p: p.line or 0)) from None
