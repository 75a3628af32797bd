"""Snapshots written before the dataflow's modules moved to `engine/flow/` still resume.

An older snapshot names its classes by their old module paths (`engine.stages`, `engine.setup`,
`engine.source_clocks`, ...). The tests write such snapshots from real state (pickle protocol 2
names each class in plain text, so the old paths can be put back exactly) and resume from them.
"""

from __future__ import annotations

import copy
import pickle
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSink, TestingSource, run_main

from engine.flow.bytewax_step import keyed_step
from engine.flow.quarantine import Quarantine
from engine.flow.source_clocks import SourceClocks
from engine.flow.state_pickle import MOVED_MODULES, load_state
from engine.flow.steps import OrderState, Waiting
from tests.engine.flow.test_source_clocks import NOW, batch, setup_with_correlation

NEW_TO_OLD = {new: old for old, new in MOVED_MODULES.items()}


def old_layout(state: object) -> bytes:
    """`state` pickled as the modules' former layout would have named its classes (and so the
    events an order stage holds pickled while they wait)."""
    if isinstance(state, OrderState):
        state = copy.deepcopy(state)
        state.order.heap = [
            (t, seq, replace(w, blob=old_layout(pickle.loads(w.blob))))
            if isinstance(w, Waiting) and w.blob is not None
            else (t, seq, w)
            for t, seq, w in state.order.heap
        ]
    blob = pickle.dumps(state, protocol=2)
    for new, old in NEW_TO_OLD.items():
        blob = blob.replace(b"c" + new.encode() + b"\n", b"c" + old.encode() + b"\n")
    assert b"engine.flow" not in blob and b"engine.flow.source_clocks" not in blob
    return blob


def test_an_old_layout_pickle_names_modules_that_no_longer_exist(tmp_path):
    setup = setup_with_correlation(tmp_path)
    state = OrderState(setup, ["live"], live=True)
    state.step(setup, batch(setup, "a", [NOW - 5], NOW))
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(old_layout(state))


def test_an_order_stage_restored_from_an_old_layout_releases_what_it_would_have(tmp_path):
    setup = setup_with_correlation(tmp_path)
    kept = OrderState(setup, ["live"], live=True)
    kept.step(setup, batch(setup, "a", [NOW - 100, NOW - 40], NOW - 30))
    kept.step(setup, batch(setup, "b", [NOW - 70, NOW - 20], NOW - 10))  # waiting for "a"
    restored = load_state(old_layout(kept))
    assert type(restored) is OrderState
    assert set(restored.clocks.clocks) == {"a", "b"}
    later = [
        batch(setup, "a", [NOW + 5, NOW + 30], NOW + 31),
        batch(setup, "b", [NOW + 60], NOW + 61),
    ]
    for b in later:
        expected = kept.step(setup, b)
        got = restored.step(setup, b)
        assert [(d, repr(m)) for d, m in got] == [(d, repr(m)) for d, m in expected]
    assert restored.stats == kept.stats


def _clock_flow(source: TestingSource, out: list[tuple[str, float]]) -> Dataflow:
    """A keyed step holding a sender's clocks; emits the watermark after each event."""

    def step(clocks: SourceClocks | None, event: tuple[str, float]):
        clocks = clocks or SourceClocks(allowed_lateness=10.0, idle_timeout=3600.0)
        sender, t = event
        clocks.arrive(sender, t, NOW)
        return clocks, [clocks.watermark(NOW)]

    flow = Dataflow("clocks")
    events = op.key_on("by_one_key", op.input("in", flow, source), lambda _e: "all")
    stepped = keyed_step("clocks", events, step, persist=True, quarantine=Quarantine())
    op.output("out", stepped, TestingSink(out))
    return flow


def _rewrite_snapshots_in_old_layout(recovery: Path) -> int:
    """Every snapshot of the keyed step, written again as the older layout names it."""
    rewritten = 0
    for part in recovery.glob("part-*.sqlite3"):
        db = sqlite3.connect(part)
        with db:
            rows = db.execute(
                "SELECT rowid, ser_change FROM snaps WHERE step_id LIKE '%clocks' AND ser_change "
                "IS NOT NULL"
            ).fetchall()
            for rowid, blob in rows:
                state = load_state(pickle.loads(blob))
                new_blob = pickle.dumps(old_layout(state))
                db.execute("UPDATE snaps SET ser_change = ? WHERE rowid = ?", (new_blob, rowid))
                rewritten += 1
        db.close()
    return rewritten


def test_a_dataflow_resumes_from_a_recovery_folder_written_in_the_old_layout(tmp_path):
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    init_db_dir(recovery, 1)
    config = RecoveryConfig(str(recovery))
    # the slow sender "b" holds the watermark back; its clock must survive the restart
    events = [
        ("a", NOW - 30),
        ("b", NOW - 300),
        ("a", NOW - 20),
        TestingSource.EOF(),
        ("a", NOW - 5),
    ]
    first: list[tuple[str, float]] = []
    source = TestingSource(events)
    run_main(_clock_flow(source, first), epoch_interval=timedelta(0), recovery_config=config)
    assert [w for _k, w in first] == [NOW - 40, NOW - 310, NOW - 310]
    assert _rewrite_snapshots_in_old_layout(recovery) > 0

    resumed: list[tuple[str, float]] = []
    source = TestingSource(events)
    run_main(_clock_flow(source, resumed), epoch_interval=timedelta(0), recovery_config=config)
    assert [w for _k, w in resumed] == [NOW - 310]  # "b" is remembered (afresh: NOW - 15)
