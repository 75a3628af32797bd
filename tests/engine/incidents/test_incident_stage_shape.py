"""The incident stage stays readable: no function in engine/incidents/ grows past 40 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import engine.incidents

LIMIT = 40


def test_no_function_of_the_incident_stage_is_longer_than_a_screen():
    package = Path(engine.incidents.__file__).parent
    long = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > LIMIT:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []
