"""The layout holds: the functional core packages stay out of each other and out of Bytewax.

`rules/`, `detectors/`, `notifiers/` and `replay/` import none of the five packages but
themselves; only `engine/` imports bytewax, and inside it only the dataflow's wiring
(`engine/flow/`), the live engine's source, sink and recovery (`engine/live/`) and the replay
command's runner; the dataflow's steps are plain objects that run without Bytewax. Imports are read with `ast`, so an import inside a
function or under `if TYPE_CHECKING:` counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "rules", "detectors", "notifiers", "replay", "compliance")
CORE = ("rules", "detectors", "notifiers", "replay", "compliance")


def imported_roots(source: str) -> set[str]:
    """The top-level names of every absolute module a Python source imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def forbidden_imports(package: str) -> list[str]:
    """`path: name` for every import of `package`'s modules that the layout does not allow."""
    allowed = {package}
    banned = (set(PACKAGES) - allowed) | {"bytewax"}
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in sorted(imported_roots(path.read_text(encoding="utf-8")) & banned):
            found.append(f"{path.relative_to(ROOT)}: {name}")
    return found


@pytest.mark.parametrize("package", CORE)
def test_a_core_package_imports_no_other_package_nor_bytewax(package):
    assert forbidden_imports(package) == []


def test_only_engine_imports_bytewax():
    importers = {
        path.relative_to(ROOT).parts[0]
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "bytewax" in imported_roots(path.read_text(encoding="utf-8"))
    }
    assert importers == {"engine"}


# Inside engine/: where Bytewax may be imported, and the dataflow's parts that must not import it.
BYTEWAX_IN_ENGINE = ("engine/flow/", "engine/live/", "engine/replay_run.py")
PLAIN_STEPS = (
    "steps",
    "run_setup",
    "items",
    "event_order",
    "epoch_merge",
    "quarantine",
    "state_pickle",
    "source_clocks",
)


def bytewax_importers(folder: Path) -> set[str]:
    """Paths (from the repository's root) of the modules under `folder` that import bytewax."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in folder.rglob("*.py")
        if "bytewax" in imported_roots(path.read_text(encoding="utf-8"))
    }


def test_inside_engine_only_the_dataflow_the_live_engine_and_the_replay_runner_import_bytewax():
    importers = bytewax_importers(ROOT / "engine")
    assert importers, "the dataflow imports bytewax somewhere"
    assert sorted(p for p in importers if not p.startswith(BYTEWAX_IN_ENGINE)) == []


def test_the_dataflows_steps_run_without_bytewax():
    plain = {f"engine/flow/{name}.py" for name in PLAIN_STEPS}
    assert plain <= {p.relative_to(ROOT).as_posix() for p in (ROOT / "engine/flow").glob("*.py")}
    assert sorted(plain & bytewax_importers(ROOT / "engine/flow")) == []


def imported_modules(source: str) -> set[str]:
    """The full dotted names of every absolute module a Python source imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_the_dataflow_does_not_depend_on_the_live_engine():
    """Replay and live share `engine/flow/`; the live engine builds on it, never the reverse."""
    found = [
        f"{path.relative_to(ROOT).as_posix()}: {name}"
        for path in sorted((ROOT / "engine/flow").rglob("*.py"))
        for name in sorted(imported_modules(path.read_text(encoding="utf-8")))
        if name == "engine.live" or name.startswith("engine.live.")
    ]
    assert found == []


def test_the_check_sees_every_way_of_importing():
    source = (
        "import os, detectors.scoring as s\n"
        "from notifiers.model import Notification\n"
        "from . import sibling\n"
        "def late():\n"
        "    from bytewax import operators\n"
        "if False:\n"
        "    import engine\n"
    )
    assert imported_roots(source) == {"os", "detectors", "notifiers", "bytewax", "engine"}
