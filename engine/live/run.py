"""`spanwatch run`: the live engine.

OTLP/HTTP and gRPC in (behind the ingest token), written to the intake log before they are
answered (`engine.live.intake`), the same dataflow as replay, incident state in Bytewax state
recovered from SQLite under the state directory, notifications through the dispatcher, and the
API. The dataflow runs until the engine stops: if Bytewax itself fails (its recovery store
cannot write to a full disk), it is started again from the last snapshot once there is room,
while the receivers go on answering (503 while the disk is full).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import orjson
import uvicorn
from bytewax.dataflow import Dataflow
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition
from bytewax.recovery import RecoveryConfig
from bytewax.run import cli_main
from starlette.applications import Starlette

from engine.config import SpanwatchConfig
from engine.flow.dataflow import build_dataflow
from engine.flow.items import Answer, Health, LogLine, Result
from engine.flow.quarantine import Quarantine
from engine.flow.run_setup import RunSetup
from engine.incidents.model import ControlReport, is_transition
from engine.live.api import make_api_app
from engine.live.disk_space import DiskSpace
from engine.live.inbox import Inbox
from engine.live.incident_log import IncidentLogFile
from engine.live.ingest_auth import IngestGate
from engine.live.intake import Intake, Refused
from engine.live.listen import ListenError
from engine.live.listen import listen as _listen
from engine.live.otlp_grpc import GrpcReceiver
from engine.live.otlp_http import make_otlp_app
from engine.live.recovery_dir import prepare_recovery_dir
from engine.live.shutdown import StopClock
from engine.live.silence_file import SilenceFile
from engine.live.source import LIVE_KEY, LiveSource
from engine.live.views import Views
from engine.live.wal import WalError
from engine.live.wal_retention import Retention
from engine.metrics.registry import EngineMetrics
from engine.otlp.event_checks import TimeBounds
from engine.state_dir import prepare_state_dir
from notifiers.dispatcher import Dispatcher
from notifiers.model import Notification
from rules.reload import RuleReloader

if TYPE_CHECKING:  # imported at run time only when configured
    from engine.live.cluster import ClusterPlace
    from engine.live.kafka import KafkaIntake
    from engine.metrics.cloudwatch import CloudWatchPublisher

log = logging.getLogger("spanwatch")
TOKEN_ENV = "SPANWATCH_API_TOKEN"  # noqa: S105 - the name of the variable
READ_TOKEN_ENV = "SPANWATCH_API_READ_TOKEN"  # noqa: S105 - the name of the variable
SLACK_SECRET_ENV = "SLACK_SIGNING_SECRET"  # noqa: S105 - the name of the variable
RECOVERY_PARTITIONS = 1
RESTART_BACKOFF = (1.0, 30.0)  # seconds before the dataflow is started again: first, at most
STOP_RESERVE = 2.0  # seconds of the stop's grace kept for the steps after delivery
REQUESTS_GRACE = 1  # seconds a server gives requests under way once it stops listening
KAFKA_READY_SECONDS = 15.0  # the longest the dataflow waits for the Kafka partitions to be known


class StartupError(Exception):
    """The engine cannot start for a reason the user can fix; one line that says which."""


def _bind_all(addresses: list[tuple[str, str]]) -> dict[str, socket.socket]:
    """A listening socket per `live.<setting>`; StartupError names the address and setting.

    All are bound before anything starts, so a busy port stops the start cleanly.
    """
    bound: dict[str, socket.socket] = {}
    for setting, address in addresses:
        try:
            bound[setting] = _listen(address)
        except (OSError, OverflowError, ValueError) as exc:
            for sock in bound.values():
                sock.close()
            reason = exc.reason if isinstance(exc, ListenError) else str(exc)
            raise StartupError(
                f"cannot listen on {address} (live.{setting}): {reason}; "
                f"set live.{setting} to a free HOST:PORT"
            ) from None
    return bound


class _Server:
    """A uvicorn server on an already-bound socket, in a thread."""

    def __init__(self, app: Starlette, sock: socket.socket) -> None:
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=REQUESTS_GRACE,  # a held request must not hold a stop
        )
        self.server = uvicorn.Server(config)
        self.sock = sock
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


class _LiveResultPartition(StatefulSinkPartition[Result, None]):
    """Results of the incident stage: the incident log (each transition once), the outbox,
    the API's views. Everything is written before the batch returns, so a snapshot taken after
    it never counts what the disk does not hold."""

    def __init__(
        self, out: IncidentLogFile, views: Views, dispatcher: Dispatcher, metrics: EngineMetrics
    ) -> None:
        self.out, self.views, self.dispatcher = out, views, dispatcher
        self.metrics = metrics

    def write_batch(self, values: list[Result]) -> None:
        lines = [item.record for item in values if isinstance(item, LogLine)]
        for line in self.out.write(lines):
            if is_transition(line):  # findings lines are the log's only: no incident view
                self.views.apply(line)
                self.metrics.transition(line)
        self.dispatcher.accept([item for item in values if isinstance(item, Notification)])
        for item in values:
            if isinstance(item, ControlReport):
                report = item.to_dict()
                self.views.report(report)
                log.info("control: %s", orjson.dumps(report).decode())
            elif isinstance(item, Health):
                self.views.health(item.sources, item.totals)
                for warning in item.warnings:
                    log.warning("event time: %s", warning)
        for item in values:  # after the log lines above: an answered request reads them
            if isinstance(item, Answer):
                report_dict = None if item.report is None else item.report.to_dict()
                self.views.answer(item.ticket, report_dict)

    def snapshot(self) -> None:
        self.out.sync()
        return None


class LiveSink(FixedPartitionedSink[Result, None]):
    def __init__(
        self,
        out: IncidentLogFile,
        views: Views,
        dispatcher: Dispatcher,
        metrics: EngineMetrics,
        writer: bool = True,
    ) -> None:
        self.out, self.views, self.dispatcher = out, views, dispatcher
        self.metrics = metrics
        self.writer = writer  # in a cluster, process 0 alone lists the one partition

    def list_parts(self) -> list[str]:
        return ["results"] if self.writer else []

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _LiveResultPartition:
        return _LiveResultPartition(self.out, self.views, self.dispatcher, self.metrics)


@dataclass
class LiveEngine:
    """Everything `spanwatch run` starts; `serve()` blocks until `stop()` or a signal."""

    config: SpanwatchConfig
    rules: list[str] | None = None
    cluster: ClusterPlace | None = None  # this process's place in a cluster; None: alone

    def __post_init__(self) -> None:
        """Start in an order that undoes itself on failure: state and intake log first, then
        the receivers (their sockets bound at once, so a taken port fails before anything
        listens), the intake opened only once every source is there, the API last."""
        self._open_state()
        self._load_views()
        self.dispatcher = Dispatcher(self.config.notifiers, self.state_dir)
        self.dispatcher.start()  # builds the receivers: one that cannot work stops the start
        sockets = self._bind_sockets()
        self.reloader = RuleReloader(self.setup.rule_paths, self.config.rules)
        self._reload_lock = threading.Lock()
        self._stopped = threading.Event()
        self.stop_clock = StopClock(self.config.live.stop_grace_seconds)
        slack = self._slack_actions()
        self.ingest_gate = IngestGate.from_env(self.config.live.ingest_auth)
        bounds = TimeBounds.of(self.config.stream)
        self.otlp = _Server(self._otlp_http_app(bounds), sockets["otlp_http"])
        self.grpc = self._grpc_receiver(bounds, sockets)
        self.kafka = self._kafka_intake(bounds)
        self.intake.open()  # the inbox as the last tick left it (Kafka's messages readable now)
        self.api = _Server(self._api_app(slack), sockets["api"])
        self.restarts = 0
        self.metrics.watch(
            inbox=self.inbox,
            views=self.views,
            dispatcher=self.dispatcher,
            gate=self.ingest_gate,
            kafka=lambda: self.kafka,
        )
        self.cloudwatch = self._cloudwatch()

    def _open_state(self) -> None:
        """The state directory, the run's setup and metrics, and the intake log with its inbox."""
        live = self.config.live
        self.state_dir = prepare_state_dir(self.config)
        self.quarantine = Quarantine(self.state_dir / "quarantine.jsonl")
        self.setup = RunSetup(
            self.config, rules=self.rules, all_shards=True, quarantine=self.quarantine
        )
        if self.cluster is not None:  # order and incidents on worker 0, shards over all
            self.setup.spread_over(self.cluster.processes)
        self.disk = DiskSpace(self.state_dir, live.min_free_bytes)
        self.metrics = EngineMetrics(self.config.metrics)
        self.inbox = Inbox(live.inbox_events, live.inbox_bytes)
        try:
            self.intake = Intake(
                self.setup,
                self.state_dir / "wal",
                self.inbox,
                disk=self.disk,
                segment_bytes=live.wal_segment_bytes,
                sync=live.wal_sync,
            )
        except WalError as exc:
            raise StartupError(str(exc)) from None
        self.intake.match_one = self.metrics.match(self.setup.match)

    def _load_views(self) -> None:
        """What the API answers before the dataflow runs: the incident log, saved and
        configured silences."""
        silence_file = SilenceFile(
            self.state_dir / "silences.json", self.config.incidents.silence_retention
        )
        self.views = Views(silence_file=silence_file)
        self.log_path = self.state_dir / "incident-log.jsonl"
        self.incident_log = IncidentLogFile(self.log_path, self.disk)
        self.views.load_log(self.log_path)
        self.views.silences.update(silence_file.load(time.time()))
        for silence in self.config.incidents.silences:
            self.views.silences[silence.id] = silence.model_dump(mode="json")

    def _bind_sockets(self) -> dict[str, socket.socket]:
        """OTLP/HTTP's and the API's sockets; gRPC's address checked, then freed for gRPC."""
        live = self.config.live
        try:
            sockets = _bind_all(
                [("otlp_http", live.otlp_http), ("otlp_grpc", live.otlp_grpc), ("api", live.api)]
            )
        except StartupError:
            self.dispatcher.close(timeout=0)
            raise
        sockets.pop("otlp_grpc").close()  # free again for gRPC, which binds its own
        return sockets

    def _slack_actions(self) -> Starlette | None:
        """Slack's buttons, when a signing secret is set to check their callbacks."""
        secret = os.environ.get(SLACK_SECRET_ENV)
        if not secret:
            return None
        from notifiers.slack_actions import make_slack_actions_app

        return make_slack_actions_app(secret, self._control_from_slack)

    def _otlp_http_app(self, bounds: TimeBounds) -> Starlette:
        live = self.config.live
        return make_otlp_app(
            self.intake,
            self.setup.aliases,
            gate=self.ingest_gate,
            max_body=live.max_request_bytes,
            bounds=bounds,
            meter=self.metrics.ingest,
        )

    def _grpc_receiver(self, bounds: TimeBounds, sockets: dict[str, socket.socket]) -> GrpcReceiver:
        live = self.config.live
        try:
            return GrpcReceiver(
                self.intake,
                self.setup.aliases,
                live.otlp_grpc,
                live.max_request_bytes,
                gate=self.ingest_gate,
                bounds=bounds,
                meter=self.metrics.ingest,
            )
        except (OSError, RuntimeError) as exc:
            for sock in sockets.values():
                sock.close()
            self.dispatcher.close(timeout=0)
            raise StartupError(
                f"cannot listen on {live.otlp_grpc} (live.otlp_grpc): {exc}; "
                "set live.otlp_grpc to a free HOST:PORT"
            ) from None

    def _kafka_intake(self, bounds: TimeBounds) -> KafkaIntake | None:
        kafka = self.config.live.kafka
        if kafka is None:
            return None
        from engine.live.kafka import KafkaIntake

        share = None
        if self.cluster is not None:
            share = (self.cluster.process_id, self.cluster.processes)
        return KafkaIntake(kafka, self.intake, self.setup.aliases, bounds=bounds, share=share)

    def _api_app(self, slack: Starlette | None) -> Starlette:
        return make_api_app(
            self.views,
            self.intake,
            token=os.environ.get(TOKEN_ENV),
            read_token=os.environ.get(READ_TOKEN_ENV),
            slack_actions=slack,
            ingest_refused=self.ingest_gate.counts,
            metrics=self.metrics.render,
            metrics_open=self.config.metrics.auth == "none",
            health_extra=self._health,
            control_wait=self.config.live.control_wait_seconds,
        )

    def _cloudwatch(self) -> CloudWatchPublisher | None:
        cloudwatch = self.config.metrics.cloudwatch
        if cloudwatch is None or self.metrics.usage is None:
            return None
        from engine.metrics.cloudwatch import CloudWatchPublisher

        return CloudWatchPublisher(cloudwatch, self.metrics.usage)

    def _health(self) -> dict[str, Any]:
        """What `/healthz` adds about durability: quarantined items, the intake log, the disk."""
        return {
            "quarantined": self.quarantine.health(),
            "intake_log": {
                "bytes": self.intake.log.held_bytes(),
                "batches": self.intake.log.commits,
                "frames": self.intake.log.appended,
            },
            "disk_full": self.disk.low(),
            "dataflow_restarts": self.restarts,
        }

    def _control_from_slack(self, obj: dict[str, Any]) -> None:
        from engine.incidents.control import ControlError

        try:
            self.intake.offer_control(obj)
        except ControlError as exc:
            log.warning("slack action refused: %s", exc)
        except Refused as exc:
            log.warning("slack action not taken: %s", exc.reason)

    def _restore_silences(self) -> None:
        """Silences still in force go through the control stream again (an idempotent update),
        in case the recovered state predates them."""
        from engine.incidents.control import ControlError

        now = time.time()
        configured = {s.id for s in self.config.incidents.silences}
        for ident, silence in self.views.silences.items():
            if ident in configured or silence.get("state") == "expired":
                continue
            try:
                self.intake.offer_control(SilenceFile.control(silence, now))
            except (ControlError, Refused) as exc:
                log.error("silence %s not restored: %s", ident, exc)

    def stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        """SIGTERM or SIGINT: the receivers answer 503 from now on, the dataflow takes its last
        tick, and the rest of the stop (`_stop_parts`) runs within the grace."""
        why = f"{signal.Signals(signum).name} received" if signum else "asked to stop"
        if not self.stop_clock.begin(why):
            return
        self.inbox.close()
        self._stopped.set()
        self.stop_clock.wait_for("the dataflow's last tick and snapshot")

    def reload_rules(self, *_: object, force: bool = True) -> bool:
        """SIGHUP, or a changed rule file: swap in the new set, or keep the old one running."""
        with self._reload_lock:
            new = self.reloader.reload() if force else self.reloader.poll()
            if new is None:
                return False
            try:
                self.setup.swap_rules(new)
            except ValueError as exc:
                log.error("rules not reloaded: %s", exc)
                return False
            log.warning("rules reloaded: %d rules", len(new.rule_ids))
            return True

    def _watch_rules(self) -> None:
        while not self._stopped.wait(self.config.live.rules_poll_seconds):
            try:
                self.reload_rules(force=False)
            except Exception:  # a watcher must never take the engine down
                log.exception("rule watcher failed")

    def serve(self) -> int:
        recovery_dir = self._recovery_dir()
        self.intake.start()
        self._restore_silences()
        flow = self._dataflow()
        self._handle_signals()
        threading.Thread(target=self._watch_rules, name="rule-watcher", daemon=True).start()
        stores = [recovery_dir]
        if self.cluster is not None:  # the other processes' stores on this machine
            here = self.state_dir.parent
            stores = [here / f"process-{i}" / "recovery" for i in range(self.cluster.processes)]
        Retention(self.intake, stores, self._stopped).start()
        self._start_parts()
        self._announce()
        try:
            status = self._run_dataflow(flow, recovery_dir)
            log.info("stop: the dataflow ended (%.1f s into the stop)", self.stop_clock.elapsed())
        finally:
            self._stop_parts()
        return status

    def _recovery_dir(self) -> Path:
        path = self.state_dir / "recovery"
        if self.cluster is None:
            return prepare_recovery_dir(path, RECOVERY_PARTITIONS)
        from engine.live.cluster import prepare_cluster_recovery_dir

        return prepare_cluster_recovery_dir(path, self.cluster)

    def _dataflow(self) -> Dataflow:
        """The replay's dataflow, fed by the intake log and writing to the live sink. In a
        cluster, events wait in the order stage (on process 0) as themselves, not as places in
        an intake log that may be another machine's."""
        place = self.cluster
        writer = place is None or place.writer
        sink = LiveSink(self.incident_log, self.views, self.dispatcher, self.metrics, writer)
        partition = LIVE_KEY if place is None else place.partition
        return build_dataflow(
            self.setup,
            LiveSource(self.intake, partition),
            [LIVE_KEY] if place is None else place.partitions,
            sink,
            live=True,
            persist=True,
            recall=self.intake.recall if place is None else None,
            shard_timer=self.metrics.stages.shard,
        )

    def _cluster_options(self) -> dict[str, Any]:
        """Bytewax's process id and addresses, in a cluster."""
        if self.cluster is None:
            return {}
        return {"process_id": self.cluster.process_id, "addresses": list(self.cluster.addresses)}

    def _handle_signals(self) -> None:
        """TERM and INT stop the engine, HUP reloads the rules (only the main thread may)."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
            signal.signal(signal.SIGHUP, self.reload_rules)

    def _start_parts(self) -> None:
        self.dispatcher.start()
        self.otlp.start()
        self.grpc.start()
        self.api.start()
        if self.kafka is not None:
            self.kafka.start()
            self._await_kafka_partitions()
        if self.cloudwatch is not None:
            self.cloudwatch.start()

    def _await_kafka_partitions(self) -> None:
        """The dataflow starts once the order stage knows the Kafka partitions it waits for
        (`KafkaIntake.expect`), or after `KAFKA_READY_SECONDS` without them."""
        assert self.kafka is not None
        if not self.kafka.ready.wait(KAFKA_READY_SECONDS):
            log.warning(
                "kafka: partitions not known after %g s; windows close on the partitions "
                "read so far until each has sent",
                KAFKA_READY_SECONDS,
            )

    def _announce(self) -> None:
        """Where the engine listens, and what its configuration leaves off."""
        if not (os.environ.get(READ_TOKEN_ENV) or os.environ.get(TOKEN_ENV)):
            log.warning("API reads are off: set %s (or %s)", READ_TOKEN_ENV, TOKEN_ENV)
        notice = self.ingest_gate.startup_notice()
        if notice is not None:
            log.warning("%s", notice)
        if self.cluster is not None:
            log.warning(
                "spanwatch: process %d of a cluster of %d (pid %d), Bytewax at %s",
                self.cluster.process_id,
                self.cluster.processes,
                os.getpid(),
                self.cluster.addresses[self.cluster.process_id],
            )
        log.warning(
            "spanwatch: OTLP/gRPC on %s, OTLP/HTTP on %s, API on %s",
            self.grpc.address,
            self.otlp.address,
            self.api.address,
        )

    def _stop_parts(self) -> None:
        """Sources first, side by side, then the intake log, delivery for what is left of the
        grace (what is not delivered stays in the outbox) and the files; each step bounded."""
        clock = self.stop_clock
        clock.begin("the dataflow ended")
        self.inbox.close()
        keep = min(STOP_RESERVE, clock.grace / 4)  # for the steps after delivery
        sources: dict[str, Any] = {
            "the OTLP/HTTP receiver": self.otlp.stop,
            "the OTLP/gRPC receiver": self.grpc.stop,
            "the API": self.api.stop,
        }
        if self.kafka is not None:
            sources["the Kafka consumer"] = self.kafka.stop
        if self.cloudwatch is not None:
            sources["the last CloudWatch put"] = self.cloudwatch.stop
        clock.run(sources, keep=keep)
        clock.run({"the intake log's last sync": self.intake.close}, keep=keep)
        clock.wait_for(f"delivery ({self.dispatcher.stats['pending']} notifications pending)")
        self.dispatcher.close(timeout=max(0.0, clock.left() - keep))
        clock.run({"the incident log and quarantine files": self._close_files}, keep=keep / 2)
        clock.finished()

    def _cluster_failed(self, reason: str) -> int:
        log.error(
            "dataflow stopped (%s): a process of the cluster failed or cannot be reached; this "
            "one stops too (exit status 2). Start every process of the cluster again: each "
            "resumes from the cluster's last snapshot",
            reason,
        )
        self._stopped.set()
        return 2

    def _close_files(self) -> None:
        self.incident_log.close()
        self.quarantine.close()

    def _run_dataflow(self, flow: Dataflow, recovery_dir: Path) -> int:
        """Run the dataflow until the engine stops; when Bytewax fails, start it again from
        the last snapshot (after a pause, and once the disk has room). In a cluster, a failure
        stops the process instead (exit status 2): a Bytewax cluster that lost a process comes
        back only when every process starts afresh."""
        backoff = RESTART_BACKOFF[0]
        while True:
            started = time.monotonic()
            try:
                cli_main(
                    flow,
                    workers_per_process=1,
                    epoch_interval=timedelta(seconds=self.config.live.epoch_seconds),
                    recovery_config=RecoveryConfig(str(recovery_dir)),
                    **self._cluster_options(),
                )
                return 0
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # Bytewax's own failures are PanicExceptions
                if self._stopped.is_set():
                    return 0
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:300]
                if self.cluster is not None:
                    return self._cluster_failed(reason)
                if time.monotonic() - started > 60:
                    backoff = RESTART_BACKOFF[0]
                self.restarts += 1
                log.error(
                    "dataflow stopped (%s); starting it again from the last snapshot in %.0f s",
                    reason,
                    backoff,
                )
                if self._stopped.wait(backoff):
                    return 0
                while self.disk.low() and not self._stopped.wait(0.5):
                    pass
                backoff = min(backoff * 2, RESTART_BACKOFF[1])
