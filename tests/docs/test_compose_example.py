"""The docker compose example holds together without Docker: its files exist, its spanwatch
configuration is valid, state is on the volume, and the Collector in front sends every pipeline
to spanwatch's OTLP port with the ingest token."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from engine.config import load_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "docker-compose"
VOLUME_PATH = PurePosixPath("/var/lib/spanwatch")  # the image's VOLUME


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((EXAMPLE / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{name} is not a mapping"
    return data


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source, from short-syntax volumes (`source:target[:ro]`)."""
    out = {}
    for entry in service.get("volumes", []):
        source, target, *_ = entry.split(":")
        out[target] = source
    return out


def config_path(service: dict[str, Any]) -> Path:
    """The spanwatch configuration file on this machine that the service runs with."""
    container_path = service["environment"]["SPANWATCH_CONFIG"]
    return EXAMPLE / mounts(service)[container_path]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load("compose.yaml")


@pytest.fixture(scope="module")
def collector() -> dict[str, Any]:
    return load("otel-collector.yaml")


def test_compose_has_both_services_and_a_named_state_volume(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"spanwatch", "otel-collector"}
    for name, service in services.items():
        assert "image" in service or "build" in service, name
    spanwatch = services["spanwatch"]
    assert (EXAMPLE / spanwatch["build"]["context"] / "Dockerfile").is_file()
    state_volume = mounts(spanwatch)[str(VOLUME_PATH)]
    assert state_volume in compose["volumes"]
    for container_path, source in [
        *mounts(spanwatch).items(),
        *mounts(services["otel-collector"]).items(),
    ]:
        if source.startswith("."):
            assert (EXAMPLE / source).is_file(), (
                f"{source} (mounted at {container_path}) is missing"
            )


def test_spanwatch_config_is_valid_and_keeps_state_on_the_volume(compose: dict[str, Any]) -> None:
    spanwatch = compose["services"]["spanwatch"]
    config = load_config(config_path(spanwatch))
    assert VOLUME_PATH in PurePosixPath(config.state_dir).parents or (
        PurePosixPath(config.state_dir) == VOLUME_PATH
    )
    assert config.live.ingest_auth == "bearer"
    assert spanwatch["environment"]["SPANWATCH_INGEST_TOKEN"].startswith("${SPANWATCH_INGEST_TOKEN")
    api_port = config.live.api.rsplit(":", 1)[1]
    assert any(str(p).endswith(f":{api_port}") for p in spanwatch["ports"])


def test_every_collector_pipeline_is_made_of_defined_components(collector: dict[str, Any]) -> None:
    pipelines = collector["service"]["pipelines"]
    assert {"traces", "logs"} <= set(pipelines)
    for name, pipeline in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in collector[kind], f"{name}: {kind} {component} is not defined"


def test_collector_exports_to_spanwatch_otlp_port_with_the_ingest_token(
    compose: dict[str, Any], collector: dict[str, Any]
) -> None:
    config = load_config(config_path(compose["services"]["spanwatch"]))
    otlp_port = int(config.live.otlp_http.rsplit(":", 1)[1])
    for name, pipeline in collector["service"]["pipelines"].items():
        (exporter_name,) = pipeline["exporters"]
        assert exporter_name.split("/")[0] == "otlphttp", name
        exporter = collector["exporters"][exporter_name]
        url = urlsplit(exporter["endpoint"])
        assert url.hostname == "spanwatch", "the exporter must name the compose service"
        assert url.port == otlp_port, f"exporter port {url.port}, spanwatch listens on {otlp_port}"
        assert url.path in ("", "/"), "otlphttp appends /v1/traces and /v1/logs itself"
        auth = exporter["headers"]["authorization"]
        assert re.fullmatch(r"Bearer \$\{env:SPANWATCH_INGEST_TOKEN\}", auth)
    collector_env = compose["services"]["otel-collector"]["environment"]
    assert "SPANWATCH_INGEST_TOKEN" in collector_env


def test_collector_listens_where_its_ports_are_published(
    compose: dict[str, Any], collector: dict[str, Any]
) -> None:
    published = {str(p).split(":")[-1] for p in compose["services"]["otel-collector"]["ports"]}
    for protocol in ("grpc", "http"):
        endpoint = collector["receivers"]["otlp"]["protocols"][protocol]["endpoint"]
        host, port = endpoint.rsplit(":", 1)
        assert host == "0.0.0.0", "inside a container the receiver must listen on every address"
        assert port in published
    mounted = mounts(compose["services"]["otel-collector"])
    command = " ".join(compose["services"]["otel-collector"]["command"])
    assert any(f"--config={path}" in command for path in mounted)


def test_collector_waits_for_a_healthy_spanwatch(compose: dict[str, Any]) -> None:
    depends = compose["services"]["otel-collector"]["depends_on"]
    assert depends["spanwatch"]["condition"] == "service_healthy"
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"HEALTHCHECK .*\n\s*CMD \[\"spanwatch\", \"health\"\]", dockerfile)
