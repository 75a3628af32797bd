"""How much of the intake log a recovery could still need, read from Bytewax's recovery store.

A recovery starts from one of the snapshots in the store: the live source replays from its
`scan_from`, and the order stage recalls its waiting events from their places in the log.
Bytewax keeps only the snapshots a resume may use (it collects the older ones), so the least of
those positions over every snapshot row in the store is where the log must still begin; the
segments wholly before it are deleted.

In a cluster Bytewax keeps a step's snapshot in whichever process's partition its key falls
to, so a process's own source position may be in another's store: the stores of the processes
on this machine (`state_dir/process-*/recovery`) are read too. A process whose position is in
a store on another machine finds none, and deletes nothing.
"""

from __future__ import annotations

import logging
import pickle
import sqlite3
import threading
from pathlib import Path

from engine.flow.dataflow import recovery_step_id
from engine.flow.state_pickle import load_state
from engine.live.intake import Intake, LogPosition

log = logging.getLogger("spanwatch")
READ_STEP = recovery_step_id("read")  # the live source's position in the intake log
ORDER_STEP = recovery_step_id("order")  # the waiting events' places in the log
EVERY_SECONDS = 5.0


def needed_position(recovery_dir: Path | list[Path], log_id: str) -> int | None:
    """The oldest intake-log position that a snapshot in the stores refers to (None: none does)."""
    positions: list[int] = []
    dirs = recovery_dir if isinstance(recovery_dir, list) else [recovery_dir]
    for part in sorted(p for d in dirs for p in d.glob("part-*.sqlite3")):
        db = sqlite3.connect(part, timeout=5)
        try:
            rows = db.execute(
                "SELECT step_id, ser_change FROM snaps WHERE step_id IN (?, ?)",
                (READ_STEP, ORDER_STEP),
            ).fetchall()
        finally:
            db.close()
        for step, blob in rows:
            if blob is None:
                continue
            snapshot = pickle.loads(blob)  # noqa: S301 - our own recovery store
            if step == READ_STEP and isinstance(snapshot, LogPosition):
                if snapshot.log_id == log_id:
                    positions.append(snapshot.scan_from)
            elif step == ORDER_STEP and isinstance(snapshot, bytes):
                state = load_state(snapshot)
                low = state.low_water() if hasattr(state, "low_water") else None
                if low is not None:
                    positions.append(low)
    return min(positions) if positions else None


class Retention(threading.Thread):
    """Deletes the intake log's segments that no snapshot needs any more, every few seconds."""

    def __init__(
        self, intake: Intake, recovery_dir: Path | list[Path], stopped: threading.Event
    ) -> None:
        super().__init__(name="intake-log-retention", daemon=True)
        self.intake = intake
        self.recovery_dir = recovery_dir
        self.stopped = stopped
        self.deleted = 0

    def run(self) -> None:
        while not self.stopped.wait(EVERY_SECONDS):
            self.once()

    def once(self) -> int:
        try:
            needed = needed_position(self.recovery_dir, self.intake.log_id)
        except (sqlite3.Error, pickle.UnpicklingError, AttributeError, EOFError) as exc:
            log.warning("intake log: cannot read the recovery store for retention: %s", exc)
            return 0
        if needed is None:
            return 0
        removed = self.intake.log.delete_before(needed)
        self.deleted += removed
        return removed


__all__ = ["LogPosition", "Retention", "needed_position"]
