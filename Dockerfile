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
RUN pip install . && mkdir -p /var/lib/spanwatch && chown spanwatch /var/lib/spanwatch

USER spanwatch
WORKDIR /var/lib/spanwatch
# OTLP/gRPC, OTLP/HTTP, and the engine's API (health, incidents, Slack actions)
EXPOSE 4317 4318 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["spanwatch"]
CMD ["run"]
