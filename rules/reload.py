"""Reload rules without a restart: a broken new rule set is refused and the old one keeps running."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

from .config import RulesConfig
from .loader import discover_rule_files
from .model import RuleLoadError, RuleProblem
from .ruleset import RuleSet

log = logging.getLogger(__name__)


class RuleReloader:
    """Watches the rule files under `paths` (the configured packs and paths when empty).

    Call `poll()` periodically and `reload()` on SIGHUP; both return a new `RuleSet` only when
    it loaded cleanly, else None. Hand the result's `adopt(old_states)` the running states.
    """

    def __init__(self, paths: Sequence[str | Path], config: RulesConfig | None = None) -> None:
        self.config = config or RulesConfig()
        self.paths = list(paths) if paths else list(self.config.rule_paths())
        self.snapshot = self._snapshot()
        self.failures = 0
        self.last_problems: list[RuleProblem] = []

    def _snapshot(self) -> dict[str, str]:
        files, _ = discover_rule_files(self.paths)
        digests: dict[str, str] = {}
        for path in files:
            try:
                stat = path.stat()
                if stat.st_size > self.config.max_file_bytes:  # refused on load: never read
                    digests[str(path)] = f"too large: {stat.st_size} {stat.st_mtime_ns}"
                    continue
                digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                digests[str(path)] = "unreadable"
        return digests

    def changed(self) -> bool:
        return self._snapshot() != self.snapshot

    def poll(self) -> RuleSet | None:
        """A new rule set if a rule file was added, removed or changed and it loads cleanly."""
        if not self.changed():
            return None
        return self.reload()

    def reload(self) -> RuleSet | None:
        """Load now (e.g. on SIGHUP); None and every problem logged when the new set is broken."""
        snapshot = self._snapshot()
        try:
            ruleset = RuleSet.load(self.paths, self.config)
        except RuleLoadError as exc:
            self.snapshot = snapshot  # do not retry the same broken files on every poll
            self.failures += 1
            self.last_problems = exc.problems
            log.error("rule reload refused, the running rules stay active:")
            for problem in exc.problems:
                log.error("  %s", problem)
            return None
        self.snapshot = snapshot
        self.last_problems = ruleset.problems
        for problem in ruleset.problems:
            log.warning("  %s", problem)
        log.info("rules reloaded: %d rules", len(ruleset.rule_ids))
        return ruleset
