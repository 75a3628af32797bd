"""The container image, checked without a Docker engine: what the build would send, where
state lives, and a health check that asks the port the configuration gives the API.

The build context is computed with Docker's own .dockerignore rules (moby's patternmatcher):
lines trimmed, `#` comments, `!` exceptions, patterns cleaned and a leading `/` dropped; a
pattern excludes a path when it matches the path or one of its parent directories, and the
last matching line decides. `*` and `?` stop at `/`; `**` crosses directories.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.config import SpanwatchConfig
from engine.live.api import make_api_app
from engine.live.run import _listen, _Server
from engine.live.views import Views
from tests.loopback_ports import free_port
from tests.patience import PATIENCE

from .live.intakes import open_intake

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


class IgnoreRules:
    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, str, re.Pattern[str]]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            pattern = posixpath.normpath(line[1:].strip() if negated else line).lstrip("/")
            self.rules.append((negated, pattern, re.compile(_glob(pattern) + r"\Z")))

    def excludes(self, path: str) -> bool:
        parts = path.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        excluded = False
        for negated, _pattern, regex in self.rules:
            if any(regex.match(c) for c in candidates):
                excluded = not negated
        return excluded

    def may_reinclude_below(self, directory: str) -> bool:
        """Whether an exception could bring back something under an excluded directory."""
        return any(
            negated and (pattern.startswith(directory + "/") or pattern.startswith("*"))
            for negated, pattern, _ in self.rules
        )


def _glob(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
            i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


RULES = IgnoreRules((ROOT / ".dockerignore").read_text())


def build_context(root: Path) -> dict[str, int]:
    """Every file the build would send, with its size."""
    sent: dict[str, int] = {}
    for directory, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        rel_dir = "" if rel_dir == "." else rel_dir
        keep = []
        for name in dirs:
            rel = posixpath.join(rel_dir, name) if rel_dir else name
            if not (RULES.excludes(rel) and not RULES.may_reinclude_below(rel)):
                keep.append(name)
        dirs[:] = keep
        for name in files:
            rel = posixpath.join(rel_dir, name) if rel_dir else name
            if not RULES.excludes(rel):
                sent[rel] = os.lstat(os.path.join(directory, name)).st_size
    return sent


def test_the_ignore_rules_follow_dockers_semantics():
    rules = IgnoreRules("*\n!engine/\n**/__pycache__\n# comment\n/build\n*.md\n!README*.md")
    assert rules.excludes("tests/x.py") and rules.excludes(".venv/lib/a.py")
    assert not rules.excludes("engine/cli.py") and not rules.excludes("engine/live/run.py")
    assert rules.excludes("engine/__pycache__/cli.pyc") and rules.excludes("__pycache__/a")
    assert rules.excludes("build/lib/x") and not rules.excludes("README-x.md")


JUNK = [
    ".venv/lib/python3.11/site-packages/bytewax/__init__.py",
    ".venv/bin/spanwatch",
    ".git",
    ".git/HEAD",
    ".git/objects/ab/cdef",
    "engine/__pycache__/cli.cpython-311.pyc",
    "rules/packs/claude_code/__pycache__/x.cpython-311.pyc",
    "engine/live/client.pyc",
    ".pytest_cache/v/cache/nodeids",
    ".hypothesis/examples/abc",
    ".ruff_cache/0.6.0/123",
    "spanwatch-state/recovery/part-0.sqlite3",
    "spanwatch-state/incident-log.jsonl",
    "spanwatch.egg-info/PKG-INFO",
    "history.jsonl.gz",
    "replay-incidents.jsonl",
    "tests/engine/test_cli_help.py",
    "bench/replay_throughput.py",
    "build/lib/engine/cli.py",
    "dist/spanwatch-0.1.0.whl",
]


@pytest.mark.parametrize("path", JUNK)
def test_the_context_leaves_out_environments_history_caches_and_test_output(path):
    assert RULES.excludes(path)


def copy_sources() -> list[str]:
    sources = []
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY "):
            sources.extend(line.split()[1:-1])
    return sources


def test_everything_the_dockerfile_copies_is_sent_and_little_else():
    context = build_context(ROOT)
    for source in copy_sources():
        local = ROOT / source
        if local.is_file():
            assert source in context, source
            continue
        wanted = {
            p.relative_to(ROOT).as_posix()
            for p in local.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        }
        assert wanted and wanted <= set(context), sorted(wanted - set(context))[:5]
    assert not any(p.startswith((".venv/", ".git/", "tests/")) for p in context)
    assert not any("__pycache__" in p or p.endswith(".pyc") for p in context)
    assert sum(context.values()) < 5 << 20  # the sources: a few MB, never an environment


def instruction(name: str) -> str:
    text = DOCKERFILE.replace("\\\n", " ")
    (line,) = [x for x in text.splitlines() if x.startswith(name + " ")]
    return line[len(name) + 1 :].strip()


def test_the_default_state_directory_is_on_a_volume_the_user_owns():
    (volume,) = json.loads(instruction("VOLUME"))
    workdirs = [x.split()[1] for x in DOCKERFILE.splitlines() if x.startswith("WORKDIR ")]
    state = posixpath.normpath(posixpath.join(workdirs[-1], SpanwatchConfig().state_dir))
    assert state == volume or state.startswith(volume.rstrip("/") + "/")
    assert f"chown spanwatch {volume}" in DOCKERFILE
    assert DOCKERFILE.index("VOLUME") > DOCKERFILE.index(f"chown spanwatch {volume}")


def healthcheck_command() -> list[str]:
    text = instruction("HEALTHCHECK")
    return json.loads(text[text.index("CMD") + 3 :].strip())


def test_the_health_check_hard_codes_no_port():
    command = healthcheck_command()
    assert command[0] == "spanwatch"
    assert not any(re.search(r":\d{2,5}\b", part) for part in command)


def test_the_health_check_asks_the_api_port_the_configuration_gives(tmp_path):
    port = free_port()
    config = tmp_path / "spanwatch.yml"
    config.write_text(f'state_dir: {tmp_path / "state"}\nlive: {{api: "0.0.0.0:{port}"}}\n')
    command = healthcheck_command()
    argv = [str(Path(sys.executable).parent / command[0]), *command[1:]]
    env = {**os.environ, "SPANWATCH_CONFIG": str(config)}

    intake = open_intake(tmp_path / "wal")
    server = _Server(make_api_app(Views(), intake, token=None), _listen(f"127.0.0.1:{port}"))
    server.start()
    try:
        deadline = time.monotonic() + PATIENCE
        while not server.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        up = subprocess.run(argv, capture_output=True, text=True, timeout=PATIENCE, env=env)
    finally:
        server.stop()
        intake.close()
    down = subprocess.run(argv, capture_output=True, text=True, timeout=PATIENCE, env=env)
    assert (up.returncode, down.returncode) == (0, 1), up.stdout + down.stdout
    assert up.stdout.startswith(f"healthy: http://127.0.0.1:{port}/healthz")
    assert down.stdout.startswith(f"unhealthy: http://127.0.0.1:{port}/healthz")


def test_the_readme_says_how_to_build_and_run_the_image():
    readme = (ROOT / "README.md").read_text()
    (volume,) = json.loads(instruction("VOLUME"))
    assert "docker build -t spanwatch ." in readme
    run = next(line for line in readme.splitlines() if line.lstrip().startswith("docker run"))
    block = readme[readme.index(run) :].split("```")[0]
    assert f":{volume}" in block and "SPANWATCH_CONFIG" in block
    assert "SPANWATCH_INGEST_TOKEN" in block and "SPANWATCH_API_TOKEN" in block
