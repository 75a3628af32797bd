"""A Bytewax cluster of processes on this machine, for `spanwatch replay --processes N`.

Bytewax runs one dataflow over several processes when each is told its id and the addresses of
all of them (`cli_main(process_id=..., addresses=[...])`, what `python -m bytewax.run -i -a`
does); their workers then exchange items over TCP. This module starts those processes as forks
of the calling one, once the history's partitions are written, so they start at once with the
rules and detectors already loaded; each runs `body(process_id)`, which leaves its result in a
file.

Failures are whole: when one process exits with an error (or is killed), the others are killed
too and `wait` raises `ClusterError` naming the process and why, so a run never hangs on a peer
that is gone. Leaving the `with` block kills whatever still runs.

The cluster's ports are chosen free and released before the processes bind them, so on a busy
machine another program (any outgoing connection takes a port from the same range) may take
one first. `run_cluster` starts the cluster again on fresh addresses when a process could not
listen on its own, a few times, and says so when it still cannot.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import signal
import socket
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import TracebackType
from typing import Any

POLL_SECONDS = 0.02
ERROR_EXIT = 3  # a process that failed with an error it wrote down
ADDRESS_IN_USE_EXIT = 4  # a process whose cluster address was taken before it could listen
SETTLE_SECONDS = 3.0  # how long the others may take to fail after a process's error
ADDRESS_ATTEMPTS = 5  # clusters started on fresh addresses before a run gives up
_IN_USE = "Address already in use"  # how Bytewax's networking reports EADDRINUSE


class ClusterError(Exception):
    """A process of the cluster failed: which, how, and what it said."""


class AddressTaken(ClusterError):
    """A process could not listen on its cluster address: something else took the port."""


def free_loopback_addresses(count: int) -> list[str]:
    """`count` loopback addresses whose ports were free a moment ago (held together while
    chosen, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    finally:
        for s in sockets:
            s.close()


class LocalCluster:
    """`with LocalCluster(n, folder, body) as c: c.start(); results = c.wait()`.

    `body(process_id)` runs in each process and returns what that process reports (pickled
    into `folder`); an exception in it fails the run with its one-line description.
    """

    def __init__(
        self,
        processes: int,
        folder: Path,
        body: Callable[[int], Any],
        name: str = "replay process",
    ) -> None:
        self.count = processes
        self.name = name  # what the errors call a process
        self.folder = folder
        self.body = body
        self.procs: list[BaseProcess] = []

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pids(self) -> list[int]:
        """The started processes' ids (signals are forwarded to each)."""
        return [p.pid for p in self.procs if p.pid is not None]

    def start(self) -> None:
        context = multiprocessing.get_context("fork")
        for process_id in range(self.count):
            self._path(process_id).unlink(missing_ok=True)  # nothing left from an earlier run
            proc = context.Process(
                target=_run, args=(self.body, process_id, self._path(process_id)), daemon=True
            )
            proc.start()
            self.procs.append(proc)

    def wait(self) -> list[Any]:
        """Every process's result once all have finished; ClusterError as soon as one fails."""
        while True:
            failed = self._failed()
            if failed:
                if all(code > 0 and code != ADDRESS_IN_USE_EXIT for _, code in failed):
                    failed = self._settle()
                # A process killed by a signal is the cause, then one whose address was taken;
                # the others' errors (a peer gone) follow from it, so it is the one named.
                self._fail(
                    *min(failed, key=lambda f: (f[1] >= 0, f[1] != ADDRESS_IN_USE_EXIT, f[0]))
                )
            if all(proc.exitcode is not None for proc in self.procs):
                break
            time.sleep(POLL_SECONDS)
        results = []
        for process_id in range(self.count):
            try:
                results.append(_load(self._path(process_id)))
            except (OSError, pickle.UnpicklingError, EOFError):
                raise ClusterError(
                    f"{self.name} {process_id} of {self.count} left no result"
                ) from None
        return results

    def _failed(self) -> list[tuple[int, int]]:
        """(process id, exit code) of every process that has failed so far."""
        return [(i, p.exitcode) for i, p in enumerate(self.procs) if p.exitcode not in (None, 0)]

    def _settle(self) -> list[tuple[int, int]]:
        """The failures once the processes failing alongside the first have exited too.

        A process whose address was taken has already connected to its lower peers when its
        own listen fails; they lose it and fail as well, and may exit first. Every process
        gets up to SETTLE_SECONDS (a peer waiting for a connection would wait forever) so the
        cause is among the failures named."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline and any(p.exitcode is None for p in self.procs):
            time.sleep(POLL_SECONDS)
        return self._failed()

    def stop(self) -> None:
        """Kill whatever still runs (a failure elsewhere, Ctrl-C) and reap every process."""
        for proc in self.procs:
            if proc.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        for proc in self.procs:
            proc.join()

    def _path(self, process_id: int) -> Path:
        return self.folder / f"process-{process_id}.result"

    def _fail(self, process_id: int, code: int) -> None:
        self.stop()
        if code == ADDRESS_IN_USE_EXIT:
            raise AddressTaken(
                f"{self.name} {process_id} of {self.count} failed (an error: "
                f"{_load(self._path(process_id))})"
            )
        if code == ERROR_EXIT:
            try:
                said = f": {_load(self._path(process_id))}"
            except (OSError, pickle.UnpicklingError, EOFError):
                said = ""
            how = f"an error{said}"
        elif code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exit status {code}"
        raise ClusterError(f"{self.name} {process_id} of {self.count} failed ({how})")


def run_cluster(
    processes: int,
    folder: Path,
    body_for: Callable[[list[str]], Callable[[int], Any]],
    *,
    attempts: int = ADDRESS_ATTEMPTS,
    choose: Callable[[int], list[str]] = free_loopback_addresses,
) -> list[Any]:
    """Every process's result, as `LocalCluster.wait` gives them, of `body_for(addresses)` run
    on `processes` processes at fresh loopback addresses (from `choose`); started again on new
    addresses when one was taken before its process could listen (nothing has run yet then)."""

    def once() -> list[Any]:
        with LocalCluster(processes, folder, body_for(choose(processes))) as cluster:
            cluster.start()
            return cluster.wait()

    for _ in range(attempts - 1):
        with contextlib.suppress(AddressTaken):
            return once()
    try:
        return once()
    except AddressTaken as exc:
        raise ClusterError(
            f"{exc}; other programs on this machine took the cluster's ports {attempts} times "
            "in a row: try again, or with fewer processes"
        ) from None


def _load(path: Path) -> Any:
    return pickle.loads(path.read_bytes())  # noqa: S301 - written by our own process


def _run(body: Callable[[int], Any], process_id: int, path: Path) -> None:
    """One process: its result into `path`, or its error's one line and ERROR_EXIT
    (ADDRESS_IN_USE_EXIT when its cluster address was taken)."""
    try:
        outcome = body(process_id)
    except BaseException as exc:  # reported whole to the parent, never lost
        text = f"{type(exc).__name__}: {exc}"
        if _IN_USE in text:  # Bytewax says so only below its first line
            path.write_bytes(pickle.dumps(f"cannot listen on its cluster address: {_IN_USE}"))
            raise SystemExit(ADDRESS_IN_USE_EXIT) from None
        path.write_bytes(pickle.dumps(text.splitlines()[0][:300]))
        raise SystemExit(ERROR_EXIT) from None
    path.write_bytes(pickle.dumps(outcome, pickle.HIGHEST_PROTOCOL))
