"""What was raised beside what was injected (`spanwatch simulate --truth`): per injection,
whether an incident explains it and how long after its start the first one opened; recall
over injections, precision over opened incidents. Matching is `engine.backtest`'s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from engine.backtest import Injection, collect_subject_labels
from engine.timeutil import parse_time


class TruthError(Exception):
    """The truth file cannot be read: one line for the user."""


@dataclass
class Detection:
    kind: str
    severity: str
    start: float
    end: float
    group: dict[str, str]
    delay: float | None  # first matching incident's opening minus the start; None: missed
    incidents: list[str] = field(default_factory=list)  # ids of the matching incidents
    findings: list[str] = field(default_factory=list)  # rules of matching findings (not paged)


@dataclass
class TruthScore:
    detections: list[Detection]
    opened: int
    matched: int
    unmatched_ids: list[str]

    @property
    def recall(self) -> float:
        found = sum(d.delay is not None or bool(d.findings) for d in self.detections)
        return found / len(self.detections) if self.detections else 1.0

    @property
    def precision(self) -> float:
        return self.matched / self.opened if self.opened else 1.0


def read_truth(path: str) -> list[dict[str, Any]]:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise TruthError(f"{path}: cannot read ({exc.strerror})") from None
    out = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
            Injection(record)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TruthError(
                f"{path}:{number}: not an injected incident (kind, start, end, group): {exc}"
            ) from None
        out.append(record)
    return out


def _finding_rules(inj: Injection, recorded: Sequence[dict[str, Any]]) -> list[str]:
    """The rules of the findings that explain `inj` (recorded in its window, fitting it)."""
    found = {
        str(line["finding"].get("rule_id"))
        for line in recorded
        if inj.matches(line["finding"], parse_time(line["at"]))
    }
    return sorted(found)


def score(
    truth: list[dict[str, Any]],
    history: list[str],
    opened: list[dict[str, Any]],
    recorded: Sequence[dict[str, Any]] = (),
) -> TruthScore:
    """`opened`: the `incident.opened` lines of the incident log; `recorded`: its
    `finding.recorded` lines, which explain an injection but never count in precision."""
    injections = [Injection(t) for t in truth]
    collect_subject_labels(history, injections)
    times = [parse_time(line["at"]) for line in opened]
    matched: set[int] = set()
    detections = []
    for inj in injections:
        hits = [i for i, line in enumerate(opened) if inj.matches(line["incident"], times[i])]
        matched.update(hits)
        delay = min((max(0.0, times[i] - inj.start) for i in hits), default=None)
        detections.append(
            Detection(
                inj.kind,
                inj.severity,
                inj.start,
                inj.end,
                inj.group,
                delay,
                [str(opened[i]["incident"].get("id")) for i in hits],
                _finding_rules(inj, recorded),
            )
        )
    unmatched = [
        str(line["incident"].get("id")) for i, line in enumerate(opened) if i not in matched
    ]
    return TruthScore(detections, len(opened), len(matched), unmatched)
