"""YAML aliases that would explode: a rule's parsed YAML keeps `*alias` as shared references,
but a rule is read as a tree, so a chain of aliases ("billion laughs") expands exponentially
and a reference cycle never ends. Checked before a document is read as a rule, in time
linear in its distinct containers."""

from __future__ import annotations

from typing import Any

MAX_EXPANSION = 10_000  # nodes aliases may add on top of the parsed document


def alias_problem(document: object, max_expansion: int = MAX_EXPANSION) -> str | None:
    """Why a parsed YAML document cannot be expanded into a tree, or None if it can.

    >>> a = ["x"] * 10
    >>> alias_problem({"b": [a, a]}), alias_problem({"b": [[a] * 10] * 200})
    (None, 'YAML aliases expand to too many nodes (a billion laughs)')
    >>> loop: list[Any] = []
    >>> loop.append(loop)
    >>> alias_problem({"a": loop})
    'a YAML alias refers to itself: recursive structures are not supported'
    """
    expanded: dict[int, int] = {}  # id of a container -> its size as a tree
    unique = 0  # the document's size counting each distinct container once
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(document, False)]
    while stack:
        node, children_done = stack.pop()
        children = _children(node)
        if children is None:
            continue
        if children_done:
            expanded[id(node)] = 1 + sum(expanded.get(id(c), 1) for c in children)
            on_path.discard(id(node))
            unique += 1 + sum(1 for c in children if _children(c) is None)
            if expanded[id(node)] - unique > max_expansion:
                return "YAML aliases expand to too many nodes (a billion laughs)"
            continue
        if id(node) in expanded:
            continue
        on_path.add(id(node))
        stack.append((node, True))
        for child in children:
            if _children(child) is None or id(child) in expanded:
                continue
            if id(child) in on_path:
                return "a YAML alias refers to itself: recursive structures are not supported"
            stack.append((child, False))
    return None


def _children(node: Any) -> list[Any] | None:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return node
    return None
