"""Snapshots of an IncidentBook saved by earlier versions, brought to today's shape on load.

Bytewax restores the book from its last snapshot after a restart or an upgrade; a book saved
when it kept routes, silences and timers itself, or before noise budgets existed, resumes
exactly where it stopped.
"""

from __future__ import annotations

from typing import Any

from engine.incidents.config import FindingsConfig
from engine.incidents.findings import Findings
from engine.incidents.grouping import Grouping
from engine.incidents.muting import Muting
from engine.incidents.noise_budget import NoiseBudget
from engine.incidents.timers import Timers

# Attributes of the flat book that its parts now hold (or that it no longer keeps).
_FLAT_ONLY = (
    *("_root", "_routes", "_intervals", "_groups", "_silences", "_timers", "_tokens"),
    *("_serial", "_version", "_inhibit_cache"),
)


def upgrade_snapshot(state: dict[str, Any]) -> dict[str, Any]:
    """The book's pickled attributes, with the parts of today's book rebuilt where missing."""
    state = dict(state)
    if "_grouping" not in state:
        state = _split_flat_book(state)
    if "_noise" not in state:
        state["_noise"] = NoiseBudget(state["config"].noise_budget)
    if "_findings" not in state:
        state["_findings"] = Findings(FindingsConfig())
    return state


def _split_flat_book(state: dict[str, Any]) -> dict[str, Any]:
    """Rebuild the parts of a book pickled when it kept routes, silences and timers itself."""
    grouping = Grouping(state["_root"])
    grouping.groups = state["_groups"]
    muting = Muting(state["config"], state["_incidents"])
    muting.silencer.silences = state["_silences"]
    timers = Timers.restore(state["_timers"], state["_tokens"], state["_serial"])
    kept = {name: value for name, value in state.items() if name not in _FLAT_ONLY}
    return {**kept, "_grouping": grouping, "_muting": muting, "_timers": timers}
