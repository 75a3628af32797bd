"""Stopping the live engine within a bound, as Kubernetes and systemd expect of a service.

Both send SIGTERM, wait a grace period (Kubernetes: 30 s by default) and then kill. So the
first SIGTERM or SIGINT starts a stop that ends within `live.stop_grace_seconds` whatever its
parts do: each step waits at most what is left of the grace and says at INFO what it waits for
and how long it took; a step still busy when its share is over is left behind (named in the
log), and a watchdog ends the process when the whole grace is over. Nothing is lost by cutting a
step short: every answered request is in the intake log and every notification of the state in
the outbox, and the next start takes both up again, as it does after a crash.

After the first signal, SIGTERM and SIGINT are back to their default action: a second one ends
the process at once, whatever the main thread is doing.

A finished stop leaves the process with `exit_now`, without the interpreter's teardown: with
every file synced and closed there is nothing left for it to do but free a large heap, which
costs little CPU yet, on a machine whose cores are shared by many processes, took the longest
part of a stop (tens of seconds while everything before it took one).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

log = logging.getLogger("spanwatch")
EXIT_GRACE_OVER = 3  # the watchdog ended a stop that overran its grace
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def exit_now(code: int) -> NoReturn:
    """End the process with `code` once logs and standard streams are flushed."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed or gone: nothing to flush
            stream.flush()
    os._exit(code)


class StopClock:
    """The grace of one stop: when it began, what is left, and the step it is waiting for."""

    def __init__(
        self,
        grace: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        end: Callable[[int], Any] = exit_now,
    ) -> None:
        self.grace = grace
        self.clock = clock
        self.end = end
        self.began: float | None = None
        self.waiting_for = "the stop to begin"
        self.watchdog: threading.Thread | None = None
        self._finished = threading.Event()

    def begin(self, why: str) -> bool:
        """Start the grace (True), or say that a stop is already under way (False)."""
        if self.began is not None:
            return False
        self.began = self.clock()
        log.info(
            "stop: %s; stopping within %g s (live.stop_grace_seconds), a second SIGTERM or "
            "SIGINT stops at once",
            why,
            self.grace,
        )
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                signal.signal(signum, signal.SIG_DFL)
        self.watchdog = threading.Thread(target=self._watch, name="stop-watchdog", daemon=True)
        self.watchdog.start()
        return True

    def left(self) -> float:
        """Seconds of grace left (the whole grace before the stop began)."""
        if self.began is None:
            return self.grace
        return max(0.0, self.began + self.grace - self.clock())

    def elapsed(self) -> float:
        return 0.0 if self.began is None else self.clock() - self.began

    def wait_for(self, what: str) -> None:
        """Say what the stop waits for next; the watchdog names it if the grace runs out."""
        self.waiting_for = what
        log.info("stop: waiting for %s (%.1f s into the stop)", what, self.elapsed())

    def run(self, steps: dict[str, Callable[[], object]], keep: float = 0.0) -> list[str]:
        """Run `steps` side by side, each in its own thread, for what is left of the grace
        but `keep` seconds; the names of those still running then (they are left behind)."""
        self.wait_for(", ".join(steps))
        threads = {}
        for name, step in steps.items():
            threads[name] = threading.Thread(
                target=self._timed, args=(name, step), name=f"stop-{name}", daemon=True
            )
            threads[name].start()
        until = self.clock() + max(0.0, self.left() - keep)
        for thread in threads.values():
            thread.join(max(0.0, until - self.clock()))
        behind = [name for name, thread in threads.items() if thread.is_alive()]
        if behind:
            log.warning(
                "stop: left behind after %.1f s, still busy: %s", self.elapsed(), ", ".join(behind)
            )
        return behind

    def _timed(self, name: str, step: Callable[[], object]) -> None:
        started = self.clock()
        try:
            step()
        except Exception:  # one part failing to stop must not keep the others from it
            log.exception("stop: %s failed", name)
            return
        log.info("stop: %s done in %.2f s", name, self.clock() - started)

    def finished(self) -> None:
        """Every step is over: the watchdog stands down."""
        self._finished.set()
        if self.began is not None:
            log.info("stop: done in %.2f s", self.elapsed())

    def _watch(self) -> None:
        while not self._finished.wait(max(self.left(), 0.01)):
            if self.left() <= 0:
                log.error(
                    "stop: the grace of %g s is over while waiting for %s; exiting now "
                    "(what was not done stays in the intake log and the outbox for the next "
                    "start)",
                    self.grace,
                    self.waiting_for,
                )
                self.end(EXIT_GRACE_OVER)
                return
