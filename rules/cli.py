"""`spanwatch rules check|test PATH…`: the functions the engine's argparse glue calls."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, TextIO

from .config import RulesConfig
from .ruleset import build_ruleset
from .testing import run_test_files


def check(
    paths: Sequence[str], *, config: RulesConfig, known_fields: Collection[str], out: TextIO
) -> int:
    """Validate rule files and print every problem; 2 if any is an error or there is no rule."""
    ruleset, problems = build_ruleset(list(paths), config, known_fields)
    for problem in sorted(problems, key=lambda p: (p.file, p.line or 0)):
        out.write(f"{problem}\n")
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    if ruleset is None or errors:
        out.write(f"{errors} error(s), {warnings} warning(s)\n")
        return 2
    if not ruleset.detections and not ruleset.correlation_ids:
        out.write(f"error: no rules found in {', '.join(paths)}\n")
        return 2
    out.write(
        f"ok: {len(ruleset.detections)} detection and {len(ruleset.correlation_ids)} "
        f"correlation rules in {len(ruleset.files)} file(s), {warnings} warning(s)\n"
    )
    return 0


def run_tests(
    paths: Sequence[str],
    *,
    config: RulesConfig,
    known_fields: Collection[str],
    out: TextIO,
    prepare_event: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    prepare_config: Callable[[RulesConfig], RulesConfig] | None = None,
) -> int:
    """Run rule test files (`*.test.yml`); 0 passed, 1 a test failed (with a diff), 2 broken."""
    return run_test_files(
        paths,
        config,
        known_fields,
        out,
        prepare_event=prepare_event,
        prepare_config=prepare_config,
    )
