"""The recovery folder before the dataflow starts: made whole, repaired when a killed start left
it half-made (it then holds no state), reported and left alone when it holds state."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from bytewax.recovery import init_db_dir

from engine.live.recovery_dir import RecoveryDirError, prepare_recovery_dir

PART = "part-0.sqlite3"


def is_initialised(folder: Path) -> bool:
    with sqlite3.connect(folder / PART) as db:
        return db.execute("SELECT count(*) FROM parts").fetchone()[0] == 1


def test_a_missing_folder_is_made_whole_in_one_step(tmp_path):
    folder = tmp_path / "recovery"
    (tmp_path / "recovery.new").mkdir()  # what a start killed during initialisation leaves
    assert prepare_recovery_dir(folder, 1) == folder
    assert is_initialised(folder)
    assert not (tmp_path / "recovery.new").exists()


@pytest.mark.parametrize("how", ["empty-folder", "zero-byte-partition", "partition-without-tables"])
def test_a_half_made_folder_is_made_again_and_logged(tmp_path, caplog, how):
    folder = tmp_path / "recovery"
    folder.mkdir()
    if how == "zero-byte-partition":
        (folder / PART).write_bytes(b"")
    elif how == "partition-without-tables":
        sqlite3.connect(folder / PART).close()
    with caplog.at_level(logging.WARNING, logger="spanwatch"):
        prepare_recovery_dir(folder, 1)
    assert is_initialised(folder)
    assert "left half-made by an interrupted start" in caplog.text


def used_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "recovery"
    folder.mkdir()
    init_db_dir(folder, 1)
    with sqlite3.connect(folder / PART) as db:
        db.execute(
            "INSERT INTO snaps (step_id, state_key, snap_epoch, ser_change) VALUES (?, ?, ?, ?)",
            ("spanwatch.incidents", "k", 3, b"state"),
        )
    return folder


def test_a_folder_holding_state_is_kept_as_it_is(tmp_path, caplog):
    folder = used_folder(tmp_path)
    before = (folder / PART).read_bytes()
    with caplog.at_level(logging.WARNING, logger="spanwatch"):
        prepare_recovery_dir(folder, 1)
    assert (folder / PART).read_bytes() == before
    assert caplog.text == ""


def test_a_partition_with_snapshots_but_no_index_row_is_reported_not_replaced(tmp_path):
    folder = used_folder(tmp_path)
    with sqlite3.connect(folder / PART) as db:
        db.execute("DELETE FROM parts")
    before = (folder / PART).read_bytes()
    with pytest.raises(RecoveryDirError, match=r"snapshots but no index row.*move the folder"):
        prepare_recovery_dir(folder, 1)
    assert (folder / PART).read_bytes() == before


def test_garbage_in_place_of_a_partition_is_reported_not_replaced(tmp_path):
    folder = tmp_path / "recovery"
    folder.mkdir()
    (folder / PART).write_bytes(b"not a database" * 100)
    with pytest.raises(RecoveryDirError, match="not a SQLite database"):
        prepare_recovery_dir(folder, 1)
    assert (folder / PART).read_bytes() == b"not a database" * 100
