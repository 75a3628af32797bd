"""Quarantine: what a stage fails on is put aside with the error and the stage, counted, and the
stage goes on; live it is written to a file once however often a recovery meets it again, and
in replay it is reported beside the bad lines.

A failing stage is a fault in the engine, which no well-formed input is known to trigger, so
the tests plant one: a setup whose matching raises for the events of one user.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from engine.config import SpanwatchConfig
from engine.flow.quarantine import Quarantine
from engine.flow.run_setup import RunSetup
from engine.live.inbox import Inbox
from engine.live.intake import Intake
from engine.replay_run import ReplayOptions, print_summary, run_replay
from tests.engine.test_replay_cli import T0, opened, pipe_to_shell


class PoisonedSetup(RunSetup):
    """The real setup, except that matching an event of user `poison` raises."""

    def match(self, event):
        if event.get("user") == "poison":
            raise ValueError("a planted fault")
        return super().match(event)


def lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


@given(st.lists(st.integers(-5, 5)))
def test_each_goes_on_past_every_failing_item_and_counts_it(items):
    quarantine = Quarantine()
    kept = [x for x, _ in quarantine.each("order", items, lambda x: 10 // x)]
    assert kept == [x for x in items if x != 0]
    assert quarantine.counts["order"] == items.count(0)
    assert quarantine.health()["total"] == items.count(0)


def test_an_item_is_written_once_with_its_stage_and_error_across_restarts(tmp_path):
    path = tmp_path / "quarantine.jsonl"
    for _ in range(3):  # the run, then two recoveries meeting the same item again
        quarantine = Quarantine(path)
        ok, result = quarantine.run("incidents", {"rule": "r1"}, lambda: {}["missing"])
        assert (ok, result) == (False, None)
        ok, result = quarantine.run("incidents", {"rule": "r2"}, lambda: 2)
        assert (ok, result) == (True, 2)
        quarantine.close()
    [line] = lines(path)
    assert line["stage"] == "incidents"
    assert line["error"] == "KeyError: 'missing'"
    assert line["item"] == {"rule": "r1"}


def test_an_item_that_cannot_be_written_as_json_is_kept_as_text(tmp_path):
    quarantine = Quarantine(tmp_path / "q.jsonl")
    quarantine.run("match", {"blob": object()}, lambda: 1 / 0)
    quarantine.close()
    [line] = lines(tmp_path / "q.jsonl")
    assert line["error"] == "ZeroDivisionError: division by zero"
    assert "object object" in line["item"]["blob"]


def test_live_an_event_that_fails_matching_is_quarantined_and_the_rest_is_taken(tmp_path):
    quarantine = Quarantine(tmp_path / "quarantine.jsonl")
    setup = PoisonedSetup(SpanwatchConfig(), all_shards=True, quarantine=quarantine)
    intake = Intake(setup, tmp_path / "wal", Inbox(100))
    intake.open()
    intake.start()
    try:
        events = [orjson.loads(pipe_to_shell(T0 + i, user=u)) for i, u in enumerate("ab")]
        events.insert(1, orjson.loads(pipe_to_shell(T0, user="poison")))
        pending = intake.offer_events(events, "sdk", 300)
        assert pending is not None
        pending.wait(10)
        assert intake.inbox.accepted == 2  # the two others are in the log, answered
    finally:
        intake.close()
        quarantine.close()
    [line] = lines(tmp_path / "quarantine.jsonl")
    assert (line["stage"], line["item"]["user"]) == ("match", "poison")
    assert quarantine.health() == {"total": 1, "by_stage": {"match": 1}, "unwritten": 0}


def test_replay_reports_quarantined_events_like_bad_lines_and_processes_the_rest(tmp_path):
    history = tmp_path / "history.jsonl"
    users = ["erin", "poison", "frank", "poison"]
    history.write_bytes(b"\n".join(pipe_to_shell(T0 + i, user=u) for i, u in enumerate(users)))
    config = SpanwatchConfig(state_dir=str(tmp_path / "state"))
    out = tmp_path / "incidents.jsonl"
    report = run_replay(
        config,
        ReplayOptions(paths=[str(history)], out=str(out)),
        setup=PoisonedSetup(config),
    )
    assert sorted(i["group"].get("user") for i in opened(out)) == ["erin", "frank"]
    assert report.quarantined == 2
    printed, errors = io.StringIO(), io.StringIO()
    print_summary(report, printed, errors)
    reported = errors.getvalue().splitlines()
    assert len(reported) == 2
    assert all(r.startswith("quarantined: match: ValueError: a planted fault: ") for r in reported)
    assert '"user":"poison"' in reported[0]
    assert "quarantined 2" in printed.getvalue()
    assert not (tmp_path / "state" / "quarantine.jsonl").exists()  # replay writes no file
