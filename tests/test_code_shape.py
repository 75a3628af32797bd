"""Functions in the shipped packages stay short enough to read at a glance.

A function over `MAX_LINES` lines (from its `def` to its last line, nested functions included)
fails this test unless it is on one of the allow-lists below. The lists only shrink: splitting
a listed function into named pieces means deleting its entry, and an entry whose function is
now short enough (or gone) fails too, so the list never hides a function that no longer needs it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "rules", "detectors", "notifiers", "replay", "compliance")
MAX_LINES = 40

# Long functions not yet split into named pieces, with their length when listed.
NOT_YET_SPLIT: set[str] = set()

# Long functions in modules being reshaped for other reasons at the same time (the detectors
# and the dataflow): listed as they are, and not held to the "only shrinks" check, so that
# splitting them elsewhere needs no edit here. Nothing outside detectors/ and engine/flow/.
BEING_RESHAPED = {
    "detectors/slice_attribution.py::_pick",  # 41
    "detectors/slice_attribution.py::attribute",  # 52
    "detectors/slice_state.py::SliceState._close",  # 43
}


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


def test_only_detectors_and_the_dataflow_may_be_reshaped_elsewhere() -> None:
    outside = sorted(
        name for name in BEING_RESHAPED if not name.startswith(("detectors/", "engine/flow/"))
    )
    assert not outside, f"split these instead of listing them: {outside}"


def test_no_new_function_is_longer_than_the_limit() -> None:
    allowed = NOT_YET_SPLIT | BEING_RESHAPED
    too_long = {name: n for name, n in long_functions().items() if name not in allowed}
    assert not too_long, (
        f"functions over {MAX_LINES} lines: split them into named pieces: {too_long}"
    )


def test_the_allow_list_names_only_functions_still_too_long() -> None:
    stale = sorted(NOT_YET_SPLIT - set(long_functions()))
    assert not stale, f"short enough now (or gone): delete from NOT_YET_SPLIT: {stale}"


def test_the_measure_counts_nested_functions_and_methods() -> None:
    source = (
        "class A:\n    def m(self):\n        def inner():\n            pass\n        return 1\n"
    )
    assert dict(function_lengths(ast.parse(source))) == {"A.m": 4, "A.m.inner": 2}
