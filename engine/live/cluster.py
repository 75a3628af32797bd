"""The live engine as a Bytewax cluster: where one process stands in it, and how it starts.

Every process of a cluster runs the same engine with its own state directory
(`state_dir/process-I`: intake log, recovery partition, quarantine) and its own live source
partition (`live-I`), fed by its receivers and by the Kafka partitions it takes
(`engine.live.kafka`: partition `p` to process `p mod N`). Bytewax connects the processes
(`process_id` and `addresses`, what `python -m bytewax.run -i -a` takes); the order stage,
the incident book and the sink's one partition sit on process 0's worker 0, so the incident
log, the notifications and the API's views are process 0's alone.

On one machine (`spanwatch run --processes N`) the command forks the N processes: process 0
listens where the configuration says; the others take their Kafka partitions only, their
receivers and API on loopback ports of their own. On several machines each is started by
hand, `--process-id I --addresses host0:port,…`, one per machine.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bytewax.recovery import init_db_dir

from engine.config import SpanwatchConfig
from engine.live.recovery_dir import RecoveryDirError, part_state

if TYPE_CHECKING:
    from engine.flow.local_cluster import LocalCluster

log = logging.getLogger("spanwatch")
PARTITION_PREFIX = "live-"
WAIT_POLL = 0.1


@dataclass(frozen=True)
class ClusterPlace:
    """This process's place in a cluster: its id and every process's Bytewax address."""

    process_id: int
    addresses: tuple[str, ...]
    loopback_only: bool = False  # one machine: only process 0 listens where configured

    def __post_init__(self) -> None:
        if not 0 <= self.process_id < len(self.addresses):
            raise ValueError(
                f"--process-id {self.process_id} is not one of the {len(self.addresses)} "
                "processes --addresses names (0 to N-1)"
            )

    @property
    def processes(self) -> int:
        return len(self.addresses)

    @property
    def writer(self) -> bool:
        """Process 0 holds the incident book's output: the incident log, delivery, views."""
        return self.process_id == 0

    @property
    def partition(self) -> str:
        return f"{PARTITION_PREFIX}{self.process_id}"

    @property
    def partitions(self) -> list[str]:
        return [f"{PARTITION_PREFIX}{i}" for i in range(self.processes)]

    def own_config(self, config: SpanwatchConfig) -> SpanwatchConfig:
        """The configuration this process runs: its own state directory, and on one machine
        loopback ports of its own for the receivers and API of every process but 0."""
        state_dir = Path(config.state_dir) / f"process-{self.process_id}"
        update: dict[str, Any] = {"state_dir": state_dir}
        if self.loopback_only and not self.writer:
            ephemeral = "127.0.0.1:0"
            update["live"] = config.live.model_copy(
                update={"otlp_http": ephemeral, "otlp_grpc": ephemeral, "api": ephemeral}
            )
        return config.model_copy(update=update)


def prepare_cluster_recovery_dir(path: Path, place: ClusterPlace) -> Path:
    """This process's one partition of the cluster's recovery store (of N partitions, one per
    process; Bytewax finds the others in the other processes' folders), made when missing or
    left half-made; RecoveryDirError when the folder is another process's or cluster's."""
    own = f"part-{place.process_id}.sqlite3"
    if path.exists() and part_state(path / own) == "unfinished":
        if any(p.name != own for p in path.glob("part-*.sqlite3")):
            raise RecoveryDirError(_not_own(path, place))
        shutil.rmtree(path)
        log.warning("%s was left half-made by an interrupted start: made it again", path)
    if not path.exists():
        with tempfile.TemporaryDirectory(dir=path.parent) as made:
            init_db_dir(Path(made), place.processes)
            fresh = path.with_name(path.name + ".new")
            shutil.rmtree(fresh, ignore_errors=True)
            fresh.mkdir()
            shutil.move(str(Path(made) / own), fresh / own)
            fresh.rename(path)
    state = part_state(path / own)
    if sorted(p.name for p in path.glob("part-*.sqlite3")) != [own]:
        raise RecoveryDirError(_not_own(path, place))
    if state not in ("fresh", "used"):
        raise RecoveryDirError(
            f"{path} cannot be recovered: {own} is {state}; "
            "move the folder aside to start with empty incident state"
        )
    count = _part_count(path / own)
    if count != place.processes:
        raise RecoveryDirError(
            f"{path} was made for a cluster of {count} processes, not {place.processes}: "
            "start with as many, or move the state directory aside"
        )
    return path


def _part_count(path: Path) -> int:
    """How many processes the recovery partition at `path` was made for."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT part_count FROM parts").fetchone()[0])
    finally:
        db.close()


def _not_own(path: Path, place: ClusterPlace) -> str:
    found = ", ".join(sorted(p.name for p in path.glob("part-*.sqlite3")))
    return (
        f"{path} holds {found}, not process {place.process_id}'s partition alone: the state "
        f"directory belongs to another process or cluster size; move it aside"
    )


def run_local_cluster(config: SpanwatchConfig, rules: list[str] | None, processes: int) -> int:
    """`spanwatch run --processes N`: N forked engines on loopback addresses; a stop signal
    goes to every one; one that fails stops the others. The exit status is the worst one."""
    from engine.flow.local_cluster import ClusterError, LocalCluster, free_loopback_addresses
    from engine.live.run import LiveEngine

    addresses = tuple(free_loopback_addresses(processes))

    def body(process_id: int) -> int:
        place = ClusterPlace(process_id, addresses, loopback_only=True)
        return LiveEngine(place.own_config(config), rules=rules, cluster=place).serve()

    Path(config.state_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=config.state_dir) as folder:
        cluster = LocalCluster(processes, Path(folder), body, name="live process")
        with cluster:
            cluster.start()
            _forward_signals(cluster)
            try:
                codes = cluster.wait()
            except ClusterError as exc:
                log.error("%s; the other processes were stopped", exc)
                return 2
    return max(int(code) for code in codes)


def _forward_signals(cluster: LocalCluster) -> None:
    """TERM, INT and HUP reach every process of the cluster (each stops or reloads itself)."""

    def forward(signum: int, _frame: Any) -> None:
        for pid in cluster.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
