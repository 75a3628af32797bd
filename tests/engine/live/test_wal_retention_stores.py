"""Intake-log retention reads where a snapshot put the source's position: in a cluster, Bytewax
may have put it in another process's recovery store."""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path

import pytest
from bytewax.recovery import init_db_dir

from engine.flow.dataflow import RECOVERED_STEPS, recovery_step_id
from engine.live.intake import LogPosition
from engine.live.wal_retention import ORDER_STEP, READ_STEP, needed_position


def _store(folder: Path, index: int, rows: list[tuple[str, int, LogPosition]]) -> Path:
    """Partition `index` of a two-partition store holding these read-step snapshots."""
    made = folder.parent / f"{folder.name}.all"
    made.mkdir(parents=True)
    init_db_dir(made, 2)
    folder.mkdir(parents=True)
    (made / f"part-{index}.sqlite3").rename(folder / f"part-{index}.sqlite3")
    db = sqlite3.connect(folder / f"part-{index}.sqlite3")
    with db:
        for key, epoch, position in rows:
            db.execute(
                "INSERT INTO snaps (step_id, state_key, snap_epoch, ser_change) VALUES (?,?,?,?)",
                (READ_STEP, key, epoch, pickle.dumps(position)),
            )
    db.close()
    return folder


def _at(log_id: str, scan_from: int) -> LogPosition:
    return LogPosition(log_id, scan_from + 10, 0, 0, 0, scan_from)


def test_a_process_finds_its_position_in_a_sibling_s_store_and_only_its_own_log_s(tmp_path):
    own = _store(tmp_path / "process-1" / "recovery", 1, [])
    sibling = _store(
        tmp_path / "process-0" / "recovery",
        0,
        [
            ("live-0", 7, _at("log-of-0", 50)),
            ("live-1", 6, _at("log-of-1", 900)),
            ("live-1", 7, _at("log-of-1", 1200)),
        ],
    )
    assert needed_position(own, "log-of-1") is None  # alone: nothing known, nothing deleted
    assert needed_position([own, sibling], "log-of-1") == 900  # the oldest kept snapshot
    assert needed_position([own, sibling], "log-of-0") == 50
    assert needed_position([own, tmp_path / "process-2" / "recovery"], "log-of-1") is None


def test_retention_reads_the_snapshots_of_the_dataflow_s_own_step_ids():
    assert recovery_step_id("read") == READ_STEP
    assert recovery_step_id("order") == ORDER_STEP
    assert {READ_STEP, ORDER_STEP} <= {recovery_step_id(s) for s in RECOVERED_STEPS}


def test_a_step_that_keeps_no_state_has_no_recovery_id():
    with pytest.raises(ValueError, match="keeps no state"):
        recovery_step_id("match")
