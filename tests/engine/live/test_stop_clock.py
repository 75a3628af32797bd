"""The stop's grace: steps left behind when their share is over, a watchdog for the rest."""

from __future__ import annotations

import signal
import threading

from engine.live.shutdown import EXIT_GRACE_OVER, StopClock
from tests.patience import PATIENCE, wait_until


def test_a_step_still_busy_when_the_grace_is_over_is_left_behind_and_named():
    release = threading.Event()
    clock = StopClock(0.3, end=lambda code: None)
    clock.begin("asked to stop")
    try:
        behind = clock.run({"a quick step": lambda: None, "a hung step": release.wait})
    finally:
        release.set()
        clock.finished()
    assert behind == ["a hung step"]


def test_the_watchdog_ends_a_stop_that_overruns_its_grace_naming_what_it_waits_for(caplog):
    ended: list[int] = []
    clock = StopClock(0.2, end=ended.append)
    clock.begin("asked to stop")
    clock.wait_for("the dataflow's last tick and snapshot")
    wait_until(lambda: ended, "the watchdog")
    assert ended == [EXIT_GRACE_OVER]
    assert "while waiting for the dataflow's last tick and snapshot" in caplog.text


def test_a_finished_stop_stands_the_watchdog_down():
    ended: list[int] = []
    clock = StopClock(PATIENCE, end=ended.append)
    assert clock.begin("asked to stop")
    assert not clock.begin("asked again")  # one stop, one grace
    clock.finished()
    assert clock.watchdog is not None
    clock.watchdog.join(PATIENCE)
    assert not clock.watchdog.is_alive() and ended == []


def test_after_the_first_signal_a_second_one_has_its_default_action():
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    clock = StopClock(PATIENCE, end=lambda code: None)
    try:
        clock.begin("SIGTERM received")
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        assert signal.getsignal(signal.SIGINT) == signal.SIG_DFL
    finally:
        clock.finished()
        for signum, handler in before.items():
            signal.signal(signum, handler)
