"""Functions in the shipped packages stay short enough to read at a glance.

A function over `MAX_LINES` lines (from its `def` to its last line, nested functions included)
fails this test: split it into named pieces, so that each function reads as a table of contents
of the steps it takes. There is no allow-list.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "rules", "detectors", "notifiers", "replay", "compliance")
MAX_LINES = 40


def function_lengths(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, int]]:
    """(qualified name, lines) of every function in `tree`, methods and nested ones too."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.ClassDef):
            yield from function_lengths(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{node.name}"
            yield name, (node.end_lineno or node.lineno) - node.lineno + 1
            yield from function_lengths(node, f"{name}.")
        else:
            yield from function_lengths(node, prefix)


def long_functions() -> dict[str, int]:
    """`path::qualified.name` -> lines, for every shipped function over `MAX_LINES` lines."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for name, lines in function_lengths(tree):
                if lines > MAX_LINES:
                    found[f"{path.relative_to(ROOT).as_posix()}::{name}"] = lines
    return found


def test_no_function_is_longer_than_the_limit() -> None:
    too_long = long_functions()
    assert not too_long, (
        f"functions over {MAX_LINES} lines: split them into named pieces: {too_long}"
    )


def test_the_measure_counts_nested_functions_and_methods() -> None:
    source = (
        "class A:\n    def m(self):\n        def inner():\n            pass\n        return 1\n"
    )
    assert dict(function_lengths(ast.parse(source))) == {"A.m": 4, "A.m.inner": 2}
