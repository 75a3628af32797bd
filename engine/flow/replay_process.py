"""One process of a replay cluster (`engine.flow.local_cluster`): its share of the dataflow.

Every process reads the partitions of the history that its workers own (`engine.flow.replay_source`),
decodes and matches them, and takes its share of the keyed shards; the order and the incident
stage run wherever Bytewax puts their keys. Only process 0 lists the sink's partition, so the
incident log and the notifications file are written once, by one writer, in the incident
stage's order. Each process reports its quarantine and any failure to read its partitions;
process 0 also the run's result and the notifications for the caller to send.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bytewax.run import cli_main

from engine.flow.dataflow import build_dataflow
from engine.flow.replay_source import SortedHistorySource, partition_names
from engine.flow.run_setup import RunSetup
from engine.flow.sinks import ResultSink, RunResult


@dataclass
class ReplayProcess:
    """What each process of the cluster runs, called with its process id."""

    setup: RunSetup
    parts: list[Path]  # one sorted partition file per worker of the cluster
    addresses: list[str]  # host:port of every process, in process-id order
    workers_per_process: int
    epoch: timedelta
    out: str | None = None
    notifications: str | None = None
    collect_notifications: bool = False

    def __call__(self, process_id: int) -> dict[str, Any]:
        writer = process_id == 0
        result = RunResult()
        sent: list[Any] = []
        sink = ResultSink(
            self.out if writer else None,
            result,
            sent.append if writer and self.collect_notifications else None,
            self.notifications if writer else None,
            local=writer,
        )
        source = SortedHistorySource(parts=self.parts)
        flow = build_dataflow(self.setup, source, partition_names(len(self.parts)), sink)
        cli_main(
            flow,
            workers_per_process=self.workers_per_process,
            process_id=process_id,
            addresses=self.addresses,
            epoch_interval=self.epoch,
        )
        quarantine = self.setup.quarantine
        return {
            "result": result if writer else None,
            "notifications": sent,
            "quarantine": (dict(quarantine.counts), quarantine.examples),
            "error": source.error.reason,
            "cpu": time.process_time(),  # this fork's own CPU seconds, for the run's report
        }
