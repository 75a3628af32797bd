"""spanwatch's own YAML configuration: one file, one section per part, validated by pydantic.

Every section has defaults, so no file at all means the embedded defaults: the default
rule pack, the default detectors, and notifications to the console and the incident log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from compliance.config import ComplianceConfig
from detectors.config import CapacityConfig, DetectorsConfig
from engine.incidents.config import IncidentsConfig, Time
from engine.live.kafka_config import KafkaConfig
from engine.metrics.config import MetricsConfig
from engine.otlp.aliases import CANONICAL_KEYS
from engine.otlp.event_checks import EARLIEST, MAX_FUTURE
from engine.otlp.model_identity import ModelCatalog, canonical_list
from engine.yamlfile import ConfigError, ConfigProblem, LineIndex, read_yaml, validate
from notifiers.config import NotifiersConfig
from rules.config import RulesConfig


class StreamConfig(BaseModel):
    """Event-time settings shared by every windowed stage."""

    model_config = ConfigDict(extra="forbid")

    allowed_lateness: float = Field(
        10.0, ge=0, description="live: seconds an event may trail its own sender's newest one"
    )
    idle_timeout: float = Field(
        60.0,
        gt=0,
        description="live: the longest a source (idle, or with a clock behind) holds back "
        "the watermark, in seconds behind the wall clock",
    )
    max_future: float = Field(
        MAX_FUTURE,
        ge=0,
        description="seconds an event time may be ahead of this machine's clock (live: the "
        "receiver's on arrival; replay: the replaying one's); later events are refused",
    )
    earliest: Time = Field(EARLIEST, description="event times before this are refused")
    tick: float = Field(30.0, gt=0, description="seconds of event time per epoch")
    heartbeat: float = Field(
        300.0,
        gt=0,
        description="seconds of event time between epochs through a stretch without events, "
        "so windows close and timers fire in quiet periods",
    )
    max_quiet: float = Field(86400.0, gt=0, description="longest silence filled with heartbeats")
    shards: int = Field(4, ge=1, le=256, description="keyed shards for correlations and detectors")


class ReplayConfig(BaseModel):
    """How replay sorts a history: memory for the sort, and where it spills the rest."""

    model_config = ConfigDict(extra="forbid")

    sort_memory_mb: float = Field(
        256.0, gt=0, description="memory the sort may hold; the rest spills to disk in runs"
    )
    spill_dir: str | None = Field(
        None, description="where sorted runs go (default: a temporary folder in state_dir)"
    )


IngestAuth = Literal["bearer", "none"]


class LiveConfig(BaseModel):
    """Where the live engine listens, who may write to it, and how much it buffers."""

    model_config = ConfigDict(extra="forbid")

    otlp_grpc: str = Field(
        "0.0.0.0:4317",
        pattern=r"^(\[[0-9a-fA-F:]+\]|[^:\s]*):\d{1,5}$",
        description="HOST:PORT of the OTLP/gRPC receiver",
    )
    otlp_http: str = Field(
        "0.0.0.0:4318",
        pattern=r"^(\[[0-9a-fA-F:]+\]|[^:\s]*):\d{1,5}$",
        description="HOST:PORT of the OTLP/HTTP receiver (/v1/traces, /v1/logs)",
    )
    api: str = Field(
        "0.0.0.0:8080",
        pattern=r"^(\[[0-9a-fA-F:]+\]|[^:\s]*):\d{1,5}$",
        description="HOST:PORT of the API (health, incidents, silences, Slack actions)",
    )
    inbox_events: int = Field(200_000, ge=1, description="decoded events waiting for the dataflow")
    inbox_bytes: int = Field(
        128 << 20, ge=1 << 20, description="memory the waiting events may hold (estimated)"
    )
    max_request_bytes: int = Field(
        16 << 20, ge=1024, description="an OTLP request body, as sent and after decompression"
    )
    epoch_seconds: float = Field(2.0, gt=0, description="wall time between state snapshots")
    min_free_bytes: int = Field(
        64 << 20,
        ge=1 << 20,
        description="room to keep free on state_dir's disk: below it ingest answers 503 and the "
        "dataflow waits (a state snapshot must still fit)",
    )
    waiting_memory_bytes: int = Field(
        128 << 20,
        ge=0,
        description="memory for events waiting for the watermark; past it they wait in the "
        "intake log and are read back when their windows take them",
    )
    wal_segment_bytes: int = Field(
        64 << 20, ge=1 << 20, description="size of one intake log segment file"
    )
    wal_sync: bool = Field(
        True,
        description="fdatasync each batch of the intake log before answering; false answers "
        "once written (a killed engine loses nothing, a machine that loses power may lose the "
        "last answered requests)",
    )
    rules_poll_seconds: float = Field(5.0, gt=0, description="how often rule files are checked")
    control_wait_seconds: float = Field(
        2.0,
        gt=0,
        description="how long an API write (ack, resolve, silence) waits for the engine to apply "
        "it before answering 202 with the accepted event (it is applied later all the same)",
    )
    stop_grace_seconds: float = Field(
        20.0,
        gt=0,
        description="how long a stop (SIGTERM, SIGINT) may take: notifications not delivered by "
        "then stay in the outbox for the next start; keep it under the grace of whatever stops "
        "the engine (Kubernetes' terminationGracePeriodSeconds: 30 by default)",
    )
    kafka: KafkaConfig | None = Field(
        None, description="Kafka topics to read OTLP from, besides the receivers (off when unset)"
    )
    ingest_auth: IngestAuth = Field(
        "bearer",
        description="bearer: OTLP writes need SPANWATCH_INGEST_TOKEN (refused without it); "
        "none: unauthenticated, only behind a Collector on a private network",
    )

    @model_validator(mode="before")
    @classmethod
    def _moved_settings(cls, data: object) -> object:
        if isinstance(data, dict) and "max_clock_skew" in data:
            raise ValueError(
                "max_clock_skew is now stream.max_future (one bound for live and replay): "
                "move the setting there"
            )
        return data

    @model_validator(mode="after")
    def _a_full_request_fits(self) -> LiveConfig:
        if self.inbox_bytes < self.max_request_bytes:
            raise ValueError(
                f"inbox_bytes ({self.inbox_bytes}) must be at least max_request_bytes "
                f"({self.max_request_bytes}), or the largest requests could never be taken"
            )
        return self


class ModelsConfig(BaseModel):
    """Model identity: names only this account knows (application inference profiles,
    provisioned or custom models), by ARN or ID, and the model each one serves."""

    model_config = ConfigDict(extra="forbid")

    profiles: dict[str, str] = Field(
        default_factory=dict,
        description="application inference profile (or provisioned/custom model) ARN or ID -> "
        "the model it serves, in any spelling",
    )

    @field_validator("profiles")
    @classmethod
    def _targets_are_models(cls, value: dict[str, str]) -> dict[str, str]:
        ModelCatalog(value)  # raises ValueError naming the entry that maps to no model
        return value

    def catalog(self) -> ModelCatalog:
        return ModelCatalog(self.profiles)


# Rule lists whose entries are models: compared with canonical model names.
MODEL_LIST_SUFFIX = "models"


def _detector_list(value: object) -> object:
    """`detectors:` may be the list itself (it replaces the default set)."""
    return {"detectors": value} if isinstance(value, list) else value


class SpanwatchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state_dir: str = Field(
        "spanwatch-state",
        description="incident state, intake log, incident log, delivery log and dead letters "
        "(relative to the working directory)",
    )
    aliases: dict[str, list[str]] = Field(
        default_factory=dict,
        description="canonical event key -> more attribute names that fill it, tried before "
        "the built-in ones",
    )
    models: ModelsConfig = Field(default_factory=ModelsConfig, description="model identity")
    stream: StreamConfig = Field(default_factory=StreamConfig, description="event time")
    live: LiveConfig = Field(default_factory=LiveConfig, description="the live engine")
    replay: ReplayConfig = Field(default_factory=ReplayConfig, description="replay's sort")
    rules: RulesConfig = Field(
        default_factory=RulesConfig, description="rule packs, rule files, lists and values"
    )
    detectors: Annotated[DetectorsConfig, BeforeValidator(_detector_list)] = Field(
        default_factory=DetectorsConfig,
        description="the statistical detectors; a list here replaces the default set",
    )
    incidents: IncidentsConfig = Field(
        default_factory=IncidentsConfig,
        description="routing, grouping, escalation, inhibition, silences, lifecycle",
    )
    notifiers: NotifiersConfig = Field(
        default_factory=NotifiersConfig,
        description="receivers, responders, delivery and redaction",
    )
    metrics: MetricsConfig = Field(
        default_factory=MetricsConfig, description="the /metrics endpoint and CloudWatch usage"
    )
    capacity: CapacityConfig = Field(
        default_factory=CapacityConfig, description="Bedrock service quotas for capacity alerts"
    )
    compliance: ComplianceConfig = Field(
        default_factory=ComplianceConfig, description="compliance drift per team, live"
    )
    _source: tuple[str, LineIndex] | None = PrivateAttr(None)

    def problem(self, key: str, message: str) -> ConfigProblem:
        """A problem with the setting `key` (dotted), placed at its file and line if it was
        written in a file (else in the embedded defaults)."""
        if self._source is None:
            return ConfigProblem("(embedded defaults)", None, key, message)
        file, index = self._source
        return ConfigProblem(file, index.line(key.split(".")), key, message)

    @field_validator("aliases")
    @classmethod
    def _known_canonical_keys(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(value) - set(CANONICAL_KEYS))
        if unknown:
            raise ValueError(
                f"aliases for unknown canonical keys {unknown}; known: {', '.join(CANONICAL_KEYS)}"
            )
        return value

    @model_validator(mode="after")
    def _model_lists_canonical(self) -> SpanwatchConfig:
        """`approved_models` (any list named `*models`) in canonical names: see
        `engine.otlp.model_identity.canonical_list`."""
        self.rules = canonical_model_lists(self.rules, self.models.catalog())
        return self

    @model_validator(mode="after")
    def _account_quotas(self) -> SpanwatchConfig:
        """The account's Bedrock quotas reach every capacity detector, in canonical names."""
        catalog = self.models.catalog()
        self.capacity.apply(self.detectors.detectors, lambda m: canonical_list([m], catalog)[0])
        return self

    @model_validator(mode="after")
    def _receivers_exist(self) -> SpanwatchConfig:
        """Routes and escalation levels may only name receivers or responders that exist."""
        configured = set(self.notifiers.names)
        missing = [n for n in self.incidents.receiver_names() if n not in configured]
        if missing:
            raise ValueError(
                f"incidents name receivers that notifiers.receivers and notifiers.responders "
                f"do not define: {missing}; defined: {sorted(configured)}"
            )
        return self


def canonical_model_lists(rules: RulesConfig, catalog: ModelCatalog) -> RulesConfig:
    """The rules configuration with its model lists in canonical names."""
    lists = {
        name: canonical_list(entries, catalog) if name.endswith(MODEL_LIST_SUFFIX) else entries
        for name, entries in rules.lists.items()
    }
    if lists == rules.lists:
        return rules
    return rules.model_copy(update={"lists": lists})


def load_config(path: str | Path | None) -> SpanwatchConfig:
    """The configuration in `path`, or the embedded defaults; ConfigError says file:line."""
    if path is None:
        return SpanwatchConfig()
    data, index = read_yaml(path)
    if data is not None and not isinstance(data, dict):
        raise ConfigError([ConfigProblem(str(path), 1, "", "the configuration must be a mapping")])
    config = validate(SpanwatchConfig, data, index, str(path))
    base = Path(path).resolve().parent
    paths = [str(base / p) if not Path(p).is_absolute() else p for p in config.rules.paths]
    config.rules = config.rules.model_copy(update={"paths": paths})
    config._source = (str(path), index)
    return config
