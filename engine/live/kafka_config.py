"""`live.kafka`: the Kafka topics the live engine reads (see `engine.live.kafka`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class KafkaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brokers: str = Field(min_length=1, description="bootstrap servers, host:port[,host:port]")
    traces_topic: str | None = "otlp_spans"
    logs_topic: str | None = "otlp_logs"
    group_id: str = "spanwatch"
    options: dict[str, str | int | bool] = Field(
        default_factory=dict, description="extra librdkafka settings (no secrets here)"
    )
    password_env: str | None = Field(None, description="environment variable for sasl.password")
