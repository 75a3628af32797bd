"""The recovery folder (Bytewax's SQLite partitions under `state_dir/recovery`), made whole
before the dataflow starts.

A new folder is initialised beside its final name and renamed into place, so a start that is
killed half-way leaves no half-made folder behind. A folder left half-made by an older start
(empty, or partitions without Bytewax's tables, none holding a snapshot) holds no state: it is
made again, and the log says so. A folder that does hold state but is damaged is reported in
one line, never replaced: moving it aside is the operator's decision.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path

from bytewax.recovery import init_db_dir

log = logging.getLogger("spanwatch")


class RecoveryDirError(Exception):
    """A recovery folder that holds state but cannot be used as it is."""


def part_state(path: Path) -> str:
    """`fresh` (initialised, no snapshot yet), `used` (holds snapshots), `unfinished` (empty
    or without Bytewax's tables: initialisation never finished), or why it is damaged."""
    if not path.exists() or path.stat().st_size == 0:
        return "unfinished"
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return "not a SQLite database"
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if not {"parts", "snaps"} <= tables:
            return "unfinished"
        snapshots = db.execute("SELECT count(*) FROM snaps").fetchone()[0]
        if not db.execute("SELECT count(*) FROM parts").fetchone()[0]:
            return "a partition with snapshots but no index row" if snapshots else "unfinished"
        return "used" if snapshots else "fresh"
    except sqlite3.DatabaseError:
        return "not a SQLite database"
    finally:
        db.close()


def _initialise(path: Path, partitions: int) -> None:
    fresh = path.with_name(path.name + ".new")
    if fresh.exists():
        shutil.rmtree(fresh)
    fresh.mkdir()
    init_db_dir(fresh, partitions)
    if path.exists():
        shutil.rmtree(path)
    fresh.rename(path)


def prepare_recovery_dir(path: Path, partitions: int) -> Path:
    """`path` ready for Bytewax: created, made again when half-made, or RecoveryDirError."""
    if path.exists() and not path.is_dir():
        raise RecoveryDirError(f"{path} is a file, not a recovery folder: move it aside")
    if not path.exists():
        _initialise(path, partitions)
        return path
    names = {f"part-{i}.sqlite3" for i in range(partitions)}
    names.update(p.name for p in path.glob("part-*.sqlite3"))
    states = {name: part_state(path / name) for name in sorted(names)}
    if all(state in ("fresh", "used") for state in states.values()):
        return path
    if all(state in ("fresh", "unfinished") for state in states.values()):
        _initialise(path, partitions)
        log.warning("%s was left half-made by an interrupted start: made it again", path)
        return path
    name, state = next((n, s) for n, s in states.items() if s not in ("fresh", "used"))
    if state == "unfinished":
        state = "missing or empty while other partitions hold state"
    raise RecoveryDirError(
        f"{path} cannot be recovered: {name} is {state}; "
        "move the folder aside to start with empty incident state"
    )
