"""`metrics:` in the configuration: who may scrape, how many label values, CloudWatch."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CloudWatchConfig(BaseModel):
    """Usage rollups put into CloudWatch (`PutMetricData`), one point per minute of event
    time; credentials from AWS's default chain."""

    model_config = ConfigDict(extra="forbid")

    namespace: str = Field(
        "Spanwatch", min_length=1, max_length=255, description="the CloudWatch metric namespace"
    )
    region: str | None = Field(None, description="AWS region (default: the environment's)")
    endpoint_url: str | None = Field(None, description="a VPC endpoint or a local stand-in")
    interval_seconds: float = Field(60.0, ge=1, description="how often gathered minutes are put")


class MetricsConfig(BaseModel):
    """The live engine's `/metrics` and usage rollups."""

    model_config = ConfigDict(extra="forbid")

    auth: Literal["token", "none"] = Field(
        "token",
        description="token: /metrics needs the API read token (or the write token), as reads "
        "of incidents do, since usage labels name teams, repositories and the busiest people; "
        "none: open, for a scraper on a private network",
    )
    usage: bool = Field(True, description="publish usage rollups (calls, tokens, cost, …)")
    max_label_values: int = Field(
        100, ge=1, le=10_000, description="values per label (team, repo, …); later ones: other"
    )
    max_series: int = Field(
        2000, ge=1, le=100_000, description="label combinations per usage family; later: other"
    )
    top_users: int = Field(
        20, ge=0, le=1000, description="people named in the top-user gauges (0: none named)"
    )
    cloudwatch: CloudWatchConfig | None = Field(
        None, description="also put the usage rollups into CloudWatch (off when absent)"
    )
