"""The configuration reference in docs/ is the models' own: regenerated, it must not change."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

from engine.config import SpanwatchConfig
from engine.config_reference import OUTPUT, REGENERATE, render

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "config_reference.py"


def test_committed_reference_is_what_the_models_render() -> None:
    committed = (ROOT / OUTPUT).read_text(encoding="utf-8")
    assert committed == render(), f"{OUTPUT} is out of date: run {REGENERATE}"


def test_check_fails_on_a_stale_reference_and_passes_on_a_fresh_one(tmp_path: Path) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text(render().replace("`10000`", "`9999`", 1), encoding="utf-8")
    run = [sys.executable, str(SCRIPT), "--check", "--file", str(stale)]
    outcome = subprocess.run(run, capture_output=True, text=True, cwd=ROOT, check=False)
    assert outcome.returncode == 1
    assert "out of date" in outcome.stderr
    written = subprocess.run(
        [sys.executable, str(SCRIPT), "--file", str(stale)], cwd=ROOT, check=True
    )
    assert written.returncode == 0
    fresh = subprocess.run(run, capture_output=True, text=True, cwd=ROOT, check=False)
    assert fresh.returncode == 0, fresh.stderr


def _rows(text: str) -> list[list[str]]:
    """The cells of every settings table row (tables headed `| key | type | default | ...`)."""
    rows, inside = [], False
    for line in text.splitlines():
        if line.startswith("| key | type | default | description |"):
            inside = True
        elif not line.startswith("|"):
            inside = False
        elif inside and not line.startswith("| ---"):
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def test_every_model_field_has_a_row() -> None:
    keys = {row[0].strip("`") for row in _rows(render())}
    for name, field in SpanwatchConfig.model_fields.items():
        assert (field.alias or name) in keys
    for section in ("stream", "live", "incidents", "notifiers"):
        model = SpanwatchConfig.model_fields[section].annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for name, field in model.model_fields.items():
            assert (field.alias or name) in keys, f"{section}.{name} is missing"


def test_every_setting_has_a_type_a_default_and_a_description() -> None:
    rows = _rows(render())
    assert len(rows) > 150
    lacking = [row[0] for row in rows if len(row) != 4 or not all(row)]
    assert not lacking, f"settings without a description (add Field(description=...)): {lacking}"
