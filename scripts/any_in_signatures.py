"""Count `Any` in the public signatures of the shipped packages, to see where typing is loose.

A public signature is that of a function or method whose name has no leading underscore
(`__init__` counts: it is how a public class is built), in a module whose path has no part
with one. Each parameter or return annotation that names `Any` (`Any`, `dict[str, Any]`,
`typing.Any`) counts once. The total `Any` in the package's source is printed beside it, since
a private helper's `Any` leaks too when a public function returns what it gives.

    .venv/bin/python scripts/any_in_signatures.py [--list] [PACKAGE ...]
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "rules", "detectors", "notifiers", "replay", "compliance")


def any_words(text: str) -> int:
    """How many times the word `Any` stands on its own in `text` (not `AnyKindModel`)."""
    words = "".join(c if c.isalnum() or c == "_" else " " for c in text).split()
    return words.count("Any")


def names_any(annotation: ast.expr | None) -> bool:
    """Whether an annotation mentions `Any` anywhere inside it (strings included)."""
    if annotation is None:
        return False
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name) and node.id == "Any":
            return True
        if isinstance(node, ast.Attribute) and node.attr == "Any":
            return True
        text = node.value if isinstance(node, ast.Constant) else None
        if isinstance(text, str) and any_words(text):
            return True
    return False


def is_public(name: str) -> bool:
    """No leading underscore, or `__init__`."""
    return name == "__init__" or not name.startswith("_")


def signature_annotations(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.expr | None]:
    """Every parameter's annotation, then the return's."""
    args = fn.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    for arg in every:
        yield arg.annotation
    yield fn.returns


def public_functions(
    tree: ast.AST, prefix: str = ""
) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """(qualified name, node) of the public functions and public classes' public methods;
    functions nested in functions are not part of any signature."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.ClassDef) and is_public(node.name):
            yield from public_functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and is_public(node.name):
            yield f"{prefix}{node.name}", node
        elif isinstance(node, ast.If | ast.Try):
            yield from public_functions(node, prefix)


def is_public_module(path: Path, package_root: Path) -> bool:
    """No part of the module's path below the repository starts with an underscore
    (`__init__.py` excepted)."""
    parts = path.relative_to(package_root.parent).with_suffix("").parts
    return all(is_public(p) or p == "__init__" for p in parts)


def count_package(package: str) -> tuple[int, int, int, list[str]]:
    """(public functions, those with `Any` in their signature, `Any` annotations in them,
    the functions' `path::name`) for one package."""
    functions = loose = annotated = 0
    where: list[str] = []
    root = ROOT / package
    for path in sorted(root.rglob("*.py")):
        if not is_public_module(path, root):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name, fn in public_functions(tree):
            functions += 1
            hits = sum(1 for a in signature_annotations(fn) if names_any(a))
            if hits:
                loose += 1
                annotated += hits
                where.append(f"{path.relative_to(ROOT).as_posix()}::{name} ({hits})")
    return functions, loose, annotated, where


def any_in_source(package: str) -> int:
    """Every `Any` word in the package's source (imports and comments included)."""
    return sum(any_words(p.read_text(encoding="utf-8")) for p in (ROOT / package).rglob("*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("packages", nargs="*", default=list(PACKAGES))
    parser.add_argument("--list", action="store_true", help="name each loose function")
    args = parser.parse_args(argv)
    header = "package     public fns  with Any  Any annotations  Any in source"
    print(header)
    for package in args.packages:
        functions, loose, annotated, where = count_package(package)
        print(
            f"{package:<11} {functions:>10}  {loose:>8}  {annotated:>15}"
            f"  {any_in_source(package):>13}"
        )
        if args.list:
            for line in where:
                print(f"    {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
