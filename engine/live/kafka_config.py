"""`live.kafka`: the Kafka topics the live engine reads (see `engine.live.kafka`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class KafkaConfig(BaseModel):
    """Topics the Collector's Kafka exporter writes (`otlp_proto` or `otlp_json` encoding)."""

    model_config = ConfigDict(extra="forbid")

    brokers: str = Field(min_length=1, description="bootstrap servers, host:port[,host:port]")
    traces_topic: str | None = Field("otlp_spans", description="topic of spans; null: none")
    logs_topic: str | None = Field("otlp_logs", description="topic of log records; null: none")
    group_id: str = Field("spanwatch", description="consumer group whose offsets are committed")
    options: dict[str, str | int | bool] = Field(
        default_factory=dict, description="extra librdkafka settings (no secrets here)"
    )
    password_env: str | None = Field(None, description="environment variable for sasl.password")
