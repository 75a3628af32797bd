"""The distribution carries everything a container or a fresh install needs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_every_package_the_rule_pack_and_the_command(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("spanwatch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("engine", "rules", "detectors", "notifiers", "replay", "compliance"):
        assert f"{package}/__init__.py" in names
    assert "engine/live/run.py" in names and "engine/incidents/book.py" in names
    pack = {n for n in names if n.startswith("rules/packs/claude_code/") and n.endswith(".yml")}
    shipped = {
        f"rules/packs/claude_code/{p.name}"
        for p in (ROOT / "rules/packs/claude_code").glob("*.yml")
    }
    assert pack == shipped and len(pack) > 10
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "spanwatch = engine.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
    assert not any(n.startswith("tests/") for n in names)


def test_the_dockerfile_installs_the_package_as_a_non_root_user_with_a_health_check():
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    assert "USER spanwatch" in text and "RUN pip install ." in text
    assert 'ENTRYPOINT ["spanwatch"]' in text and "HEALTHCHECK" in text
    assert "EXPOSE 4317 4318 8080" in text
    for package in ("engine", "rules", "detectors", "notifiers", "replay", "compliance"):
        assert f"COPY {package} ./{package}" in text
