"""The values the rules package hands to the engine: hits, correlation inputs, load problems."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from .evidence import NO_EVIDENCE, Evidence, EvidenceSource, shown

SEVERITIES = ("info", "low", "medium", "high", "critical")


class RuleHit(NamedTuple):
    """One reason to open or update an incident (a matching event or a satisfied window).

    A named tuple: a busy event can raise a hit for each of hundreds of rules, and a tuple is
    built in a fraction of a frozen dataclass's time. A matched event's evidence stays raw
    (`raw_evidence`, an `EvidenceSource`) until it is shown: most hits only count towards an
    incident that has kept its samples already.
    """

    rule_id: str
    title: str
    severity: str
    time: float
    group: dict[str, str]
    labels: dict[str, str]
    raw_evidence: Evidence
    runbook: str | None = None
    resolve_after: float | None = None
    noise_budget: int | None = None  # None: the global budget; 0: none
    produces: str = "incident"  # or "finding": recorded and digested, never paged

    @property
    def evidence(self) -> dict[str, Any]:
        """The evidence as shown (for a matched event, a new dict on every access)."""
        return shown(self.raw_evidence)


@dataclass(frozen=True)
class CorrelationInput:
    """What the stateless stage forwards to one correlation rule's keyed state.

    Evidence is kept as the raw values it is made of (`evidence_source`) and built only when
    asked for: a window shows it only when it fires, and most inputs never fire one.
    """

    correlation_id: str
    time: float
    group: tuple[str, ...]
    rule_id: str
    value: float | str | None
    evidence_source: EvidenceSource = NO_EVIDENCE

    @property
    def evidence(self) -> dict[str, Any]:
        """The matching event's evidence (a new dict on every access)."""
        return self.evidence_source.build()


@dataclass(frozen=True)
class RuleProblem:
    """A problem found while loading rules or tests: where it is and what to do."""

    file: str
    line: int | None
    rule: str | None
    field: str | None
    message: str
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        parts = [where, f" {self.severity}:"]
        if self.rule:
            parts.append(f" [{self.rule}]")
        if self.field:
            parts.append(f" {self.field}:")
        parts.append(f" {self.message}")
        return "".join(parts)


class RuleLoadError(Exception):
    """Raised when a rule set has errors; carries every problem found, not only the first."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        lines = "\n".join(str(p) for p in errors)
        super().__init__(f"{len(errors)} error(s) in rules:\n{lines}")
