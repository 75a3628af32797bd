"""`make test` type-checks the packages as strictly as `mypy --strict`, and bench/ too."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["notifiers.*", "engine.*", "replay.*", "detectors.*", "rules.*", "compliance.*"]
# What `mypy --strict` turns on (mypy's documentation, "--strict"), as configuration keys.
STRICT = {
    "warn_unused_configs",
    "disallow_any_generics",
    "disallow_subclassing_any",
    "disallow_untyped_calls",
    "disallow_untyped_defs",
    "disallow_incomplete_defs",
    "check_untyped_defs",
    "disallow_untyped_decorators",
    "warn_redundant_casts",
    "warn_unused_ignores",
    "warn_return_any",
    "no_implicit_reexport",
    "strict_equality",
    "extra_checks",
}


def mypy_settings() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]


def test_the_packages_are_checked_with_every_strict_flag():
    settings = mypy_settings()
    packages = next(o for o in settings["overrides"] if sorted(o["module"]) == sorted(PACKAGES))
    on = {k for k, v in {**settings, **packages}.items() if v is True}
    assert sorted(STRICT - on) == []


def test_every_package_and_the_benchmarks_are_type_checked():
    files = set(mypy_settings()["files"])
    assert {p.removesuffix(".*") for p in PACKAGES} | {"bench"} <= files
