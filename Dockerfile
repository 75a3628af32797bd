# spanwatch: the engine in a slim Python 3.11 image, run as an unprivileged user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 spanwatch
WORKDIR /opt/spanwatch
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY rules ./rules
COPY detectors ./detectors
COPY notifiers ./notifiers
COPY replay ./replay
COPY compliance ./compliance
RUN pip install . && mkdir -p /var/lib/spanwatch && chown spanwatch /var/lib/spanwatch

USER spanwatch
WORKDIR /var/lib/spanwatch
# Incident state (Bytewax recovery), the incident log, the delivery log and dead letters live
# under state_dir: the embedded default (spanwatch-state, relative to this directory) is on
# this volume, and a configuration should keep its state_dir under it too.
VOLUME ["/var/lib/spanwatch"]
# OTLP/gRPC, OTLP/HTTP, and the engine's API (health, incidents, Slack actions)
EXPOSE 4317 4318 8080
# A configuration mounted into the container is named by SPANWATCH_CONFIG, which `run` and
# `health` both read, so the check asks the API on the port the configuration gives it.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["spanwatch", "health"]
ENTRYPOINT ["spanwatch"]
CMD ["run"]
