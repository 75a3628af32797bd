"""The telemetry simulator: an organisation's assistant traffic with labelled injected incidents.

Output is what an OpenTelemetry Collector's file exporter would have written (one OTLP/JSON
request per line, time ordered), so the simulated history goes through exactly the decoding path
of real history. Same spec, same bytes: every draw comes from generators seeded by the spec
(per user and day for ordinary traffic, per incident for injected activity) and gzip output
carries no timestamp or file name.
"""

from __future__ import annotations

import gzip
import math
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import orjson

from replay.progress import Progress
from replay.simulator.effects import Effects
from replay.simulator.injected_incidents import KIND_SETS, InjectedIncident, inject_incidents
from replay.simulator.population import build_organisation
from replay.simulator.shape import OrgShape
from replay.simulator.traffic import BATCH_US, Collector, World
from replay.simulator.workday import DAY_S, US, user_day
from replay.timefmt import parse_time

DEFAULT_START = parse_time("2026-11-02T00:00:00Z")  # a Monday


@dataclass(frozen=True)
class SimulationSpec:
    """What to simulate; every field takes part in the output, so the same spec gives same bytes."""

    days: int = 7
    users: int = 500
    seed: int = 1
    start: float = DEFAULT_START
    claude_code_logs: bool = False  # also emit Claude Code's own OTLP log events
    incidents: bool = True  # inject the labelled incidents
    shape: OrgShape = field(
        default_factory=OrgShape
    )  # spellings, exports, zones, traffic, batching
    kinds: str = "classic"  # which incident kinds: `classic` (eleven) or `all` (fourteen)

    def __post_init__(self) -> None:
        if self.claude_code_logs and self.shape.export == "spans":  # the older switch
            object.__setattr__(self, "shape", replace(self.shape, export="both"))
        object.__setattr__(self, "claude_code_logs", self.shape.with_logs)
        if self.kinds not in KIND_SETS:
            raise ValueError(f"kinds must be one of {', '.join(KIND_SETS)}, got {self.kinds!r}")
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")
        if self.users < 1:
            raise ValueError(f"users must be at least 1, got {self.users}")
        if not math.isfinite(self.start) or self.start < 0:
            raise ValueError(f"start must be a time after 1970, got {self.start}")


@dataclass(frozen=True)
class SimulationSummary:
    spans: int
    log_records: int
    lines: int
    incidents: tuple[InjectedIncident, ...]
    start: float
    end: float
    seconds: float

    def incidents_by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for incident in self.incidents:
            counts[incident.kind] = counts.get(incident.kind, 0) + 1
        return counts


def simulate(
    spec: SimulationSpec,
    out: str | Path,
    truth: str | Path | None = None,
    progress: Progress | None = None,
) -> SimulationSummary:
    """Write `spec`'s telemetry to `out` (gzip if it ends in `.gz`) and the truth to `truth`;
    `progress` is told the days done and the events written."""
    began = time.perf_counter()
    shape = spec.shape
    org = build_organisation(spec.seed, spec.users, shape)
    collector = Collector(with_logs=shape.with_logs, per_session=shape.batching == "session")
    lo = round(spec.start * US)
    hi = lo + spec.days * DAY_S * US
    world = World(org, collector, Effects(), until=hi, traffic=shape.traffic_knobs)
    truths = inject_incidents(world, spec.seed, lo, hi, spec.kinds) if spec.incidents else []
    _write_days(
        world, spec.seed, lo, hi, Path(out), progress or Progress(sys.stderr, enabled=False)
    )
    if truth is not None:
        Path(truth).write_bytes(
            b"".join(orjson.dumps(t.to_json()) + b"\n" for t in truths),
        )
    return SimulationSummary(
        spans=collector.spans,
        log_records=collector.log_records,
        lines=collector.lines,
        incidents=tuple(truths),
        start=lo / US,
        end=hi / US,
        seconds=time.perf_counter() - began,
    )


def _write_days(world: World, seed: int, lo: int, hi: int, out: Path, progress: Progress) -> None:
    """Every local day of every user touching [lo, hi), written as soon as no later day can
    add anything earlier."""
    org, collector = world.org, world.collector
    offsets = sorted({u.utc_offset_s for u in org.users})
    first_day = (lo // US + offsets[0]) // DAY_S
    last_day = (hi // US + offsets[-1]) // DAY_S
    progress.stage("simulating", last_day - first_day + 1, "days")
    try:
        with _open_output(out) as sink:
            for day in range(first_day, last_day + 1):
                for user in org.users:
                    user_day(world, random.Random(f"{seed}:{user.index}:{day}"), user, day, lo, hi)
                # Nobody's next local day starts before this: everything earlier is final.
                ready = ((day + 1) * DAY_S - offsets[-1]) * US
                sink.writelines(collector.drain(ready - ready % BATCH_US))
                progress.update(
                    day - first_day + 1,
                    collector.spans + collector.log_records,
                    force=day == last_day,
                )
            sink.writelines(collector.drain())
    finally:
        progress.close()


@contextmanager
def _open_output(path: Path) -> Iterator[BinaryIO]:
    if path.name.endswith(".gz"):
        with (
            path.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz,
        ):
            yield gz  # type: ignore[misc]
    else:
        with path.open("wb", buffering=1 << 20) as plain:
            yield plain
