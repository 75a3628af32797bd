"""spanwatch's own YAML configuration: one file, one section per part, validated by pydantic.

Every section has defaults, so no file at all means the embedded defaults: the default
rule pack, the default detectors, and notifications to the console and the incident log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from detectors.config import DetectorsConfig
from engine.aliases import CANONICAL_KEYS
from engine.incidents.config import IncidentsConfig
from engine.live.kafka import KafkaConfig
from engine.model_identity import ModelCatalog, canonical_list
from engine.yamlfile import ConfigError, Problem, read_yaml, validate
from notifiers.config import NotifiersConfig
from rules.config import RulesConfig


class StreamConfig(BaseModel):
    """Event-time settings shared by every windowed stage."""

    model_config = ConfigDict(extra="forbid")

    allowed_lateness: float = Field(60.0, ge=0, description="seconds a record may trail its source")
    tick: float = Field(30.0, gt=0, description="seconds of event time per epoch")
    heartbeat: float = Field(300.0, gt=0)
    max_quiet: float = Field(86400.0, gt=0, description="longest silence filled with heartbeats")
    shards: int = Field(4, ge=1, le=256, description="keyed shards for correlations and detectors")


IngestAuth = Literal["bearer", "none"]


class LiveConfig(BaseModel):
    """Where the live engine listens, who may write to it, and how much it buffers."""

    model_config = ConfigDict(extra="forbid")

    otlp_grpc: str = Field("0.0.0.0:4317", pattern=r"^(\[[0-9a-fA-F:]+\]|[^:\s]*):\d{1,5}$")
    otlp_http: str = Field("0.0.0.0:4318", pattern=r"^(\[[0-9a-fA-F:]+\]|[^:\s]*):\d{1,5}$")
    api: str = Field("0.0.0.0:8080", pattern=r"^(\[[0-9a-fA-F:]+\]|[^:\s]*):\d{1,5}$")
    inbox_events: int = Field(200_000, ge=1, description="decoded events waiting for the dataflow")
    max_request_bytes: int = Field(16 << 20, ge=1024)
    epoch_seconds: float = Field(2.0, gt=0, description="wall time between state snapshots")
    rules_poll_seconds: float = Field(5.0, gt=0, description="how often rule files are checked")
    kafka: KafkaConfig | None = None
    ingest_auth: IngestAuth = Field(
        "bearer",
        description="bearer: OTLP writes need SPANWATCH_INGEST_TOKEN (refused without it); "
        "none: unauthenticated, only behind a Collector on a private network",
    )


class ModelsConfig(BaseModel):
    """Model identity: names only this account knows (application inference profiles,
    provisioned or custom models), by ARN or ID, and the model each one serves."""

    model_config = ConfigDict(extra="forbid")

    profiles: dict[str, str] = Field(default_factory=dict)

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

    state_dir: str = "spanwatch-state"
    aliases: dict[str, list[str]] = Field(default_factory=dict)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    stream: StreamConfig = Field(default_factory=StreamConfig)
    live: LiveConfig = Field(default_factory=LiveConfig)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    detectors: Annotated[DetectorsConfig, BeforeValidator(_detector_list)] = Field(
        default_factory=DetectorsConfig
    )
    incidents: IncidentsConfig = Field(default_factory=IncidentsConfig)
    notifiers: NotifiersConfig = Field(default_factory=NotifiersConfig)

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
        `engine.model_identity.canonical_list`."""
        self.rules = canonical_model_lists(self.rules, self.models.catalog())
        return self

    @model_validator(mode="after")
    def _receivers_exist(self) -> SpanwatchConfig:
        """Routes and escalation levels may only name receivers that are configured."""
        configured = {r.name for r in self.notifiers.receivers}
        missing = [n for n in self.incidents.receiver_names() if n not in configured]
        if missing:
            raise ValueError(
                f"incidents name receivers that notifiers.receivers does not define: {missing}; "
                f"defined: {sorted(configured)}"
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
        raise ConfigError([Problem(str(path), 1, "", "the configuration must be a mapping")])
    config = validate(SpanwatchConfig, data, index, str(path))
    base = Path(path).resolve().parent
    paths = [str(base / p) if not Path(p).is_absolute() else p for p in config.rules.paths]
    config.rules = config.rules.model_copy(update={"paths": paths})
    return config
