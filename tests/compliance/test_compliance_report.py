"""`spanwatch report compliance` as an auditor runs it: on history and a replay's incident log."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance.drift import fisher_lower_tail
from tests.compliance.history import write_history

PERIOD = ("--from", "2026-01-05T00:00:00+00:00", "--to", "2026-02-16T01:00:00+01:00")
PACK = Path(__file__).resolve().parents[2] / "rules" / "packs" / "claude_code"


def spanwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, timeout=300
    )


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


@given(st.integers(0, 30), st.integers(0, 30), st.integers(0, 60), st.integers(0, 60))
def test_the_fisher_tail_is_the_exact_hypergeometric_sum(a, b, c, d):
    clean, n, base_clean, base_n = a, a + b, c, c + d
    if n == 0 or base_n == 0:
        return
    total, k_total = n + base_n, clean + base_clean
    exact = sum(
        Fraction(math.comb(k_total, k) * math.comb(total - k_total, n - k), math.comb(total, n))
        for k in range(0, clean + 1)
    )
    assert fisher_lower_tail(clean, n, base_clean, base_n) == pytest.approx(float(exact), abs=1e-9)


@pytest.fixture(scope="module")
def audit(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("audit")
    history = tmp / "history.jsonl"
    write_history(history)
    # the history a collector really left: a torn line and an event from before 1970
    with history.open("ab") as f:
        f.write(b'{"time": "2026-02-10T10:00:00Z", "name": "shell.r\n')
        f.write(b'{"time": -5, "name": "shell.run", "team": "platform", "session": "x"}\n')
    first = tmp / "first.jsonl"
    done = spanwatch("replay", str(history), "--out", str(first))
    assert done.returncode == 0, done.stderr
    opened = [x["incident"] for x in read_jsonl(first) if x["type"] == "incident.opened"]
    pipe = next(i for i in opened if i["rule_id"] == "shell-pipe-to-shell")
    control = tmp / "control.jsonl"
    control.write_bytes(
        orjson.dumps({"type": "ack", "at": pipe["first_seen"], "incident": pipe["id"],
                      "by": "alice@corp.example"}) + b"\n"
        + orjson.dumps({"type": "silence", "at": "2026-02-09T07:00:00Z",
                        "ends_at": "2026-02-09T19:00:00Z", "matchers": ["team=data-sci"],
                        "created_by": "bob@corp.example", "comment": "migration <day>"}) + b"\n"
    )  # fmt: skip
    log = tmp / "incidents.jsonl"
    done = spanwatch("replay", str(history), "--control", str(control), "--out", str(log))
    assert done.returncode == 0, done.stderr
    out = tmp / "evidence.json"
    done = spanwatch(
        "report", "compliance", str(history), *PERIOD, "--incidents", str(log),
        "--control", str(control), "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return {"tmp": tmp, "history": history, "log": log, "control": control, "pipe": pipe,
            "doc": orjson.loads(out.read_bytes()), "stdout": done.stdout}  # fmt: skip


def test_weekly_adherence_pull_requests_and_risky_hits_per_team(audit):
    rows = {(r["team"], r["week"]): r for r in audit["doc"]["weekly"]}
    assert len(rows) == 12  # two teams, six ISO weeks
    small = rows[("data-sci", "2026-W05")]
    assert small["sessions"] == 8 and small["adherence"]["security"] == 0.75
    assert small["adherence"]["policy"] == 1.0  # per rule category
    assert small["dangerous_command_hits_per_1000_sessions"] == 250.0
    assert small["pull_request_pass_share"] == 1.0
    last = rows[("platform", "2026-W07")]
    assert last["sessions"] == 60 and last["adherence"]["any"] < 0.85
    assert 0 < last["pull_requests_with_passing_assertion"] < last["pull_requests"]
    assert all(r["credential_hits"] == 0 for r in rows.values())


def test_drift_is_found_for_the_big_teams_drop_not_the_small_teams_bad_week(audit):
    drift = audit["doc"]["drift"]
    assert {(d["team"], d["week"]) for d in drift} == {("platform", "2026-W07")}
    assert {d["category"] for d in drift} == {"any", "security"}
    assert all(d["p_value"] < 0.01 and d["baseline_adherence"] > 0.9 for d in drift)


def test_incidents_silences_counts_and_the_rule_set_version(audit):
    doc = audit["doc"]
    acked = next(i for i in doc["incidents"] if i["id"] == audit["pipe"]["id"])
    assert acked["acknowledged_by"] == "alice@corp.example"
    assert acked["seconds_to_acknowledge"] == 0.0
    assert acked["resolved_at"] is not None and acked["seconds_to_resolve"] > 0
    assert doc["silences"] == [
        {
            "id": doc["silences"][0]["id"],
            "matchers": ['team="data-sci"'],
            "starts_at": "2026-02-09T07:00:00Z",
            "ends_at": "2026-02-09T19:00:00Z",
            "created_by": "bob@corp.example",
            "comment": "migration <day>",
        }
    ]
    counts = {(c["team"], c["rule_id"]): c["hits"] for c in doc["rules"]}
    weekly = sum(r["rule_hits"].get("shell-pipe-to-shell", 0) for r in doc["weekly"])
    assert (
        counts[("platform", "shell-pipe-to-shell")] + counts[("data-sci", "shell-pipe-to-shell")]
        == weekly
    )
    assert len(doc["ruleset"]["version"]) == 64 and doc["ruleset"]["files"]


def test_bad_history_lines_are_counted_and_named_and_the_rest_used(audit):
    history = audit["doc"]["history"]
    assert history["bad_lines"] == 1 and history["refused_events"] == 1
    name = audit["history"].name
    lines = len(audit["history"].read_bytes().splitlines())
    assert f"{name}:{lines - 1}:" in history["problems"][0]
    assert f"{name}:{lines}:" in history["problems"][1]
    assert "bad lines 1" in audit["stdout"] and f"{name}:{lines - 1}:" in audit["stdout"]


def test_another_rule_set_has_another_version(audit, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(PACK, rules)
    changed = rules / "shell_pipe_to_shell.yml"
    text = changed.read_text()
    assert "\nlevel: critical\n" in text
    changed.write_text(text.replace("\nlevel: critical\n", "\nlevel: high\n"))
    out = tmp_path / "evidence.json"
    done = spanwatch(
        "report", "compliance", str(audit["history"]), *PERIOD, "--rules", str(rules),
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        orjson.loads(out.read_bytes())["ruleset"]["version"] != audit["doc"]["ruleset"]["version"]
    )


def test_readable_documents_as_markdown_and_html(audit):
    tmp = audit["tmp"]
    args = [str(audit["history"]), *PERIOD, "--incidents", str(audit["log"]),
            "--control", str(audit["control"])]  # fmt: skip
    done = spanwatch("report", "compliance", *args, "--out", str(tmp / "evidence.html"))
    assert done.returncode == 0, done.stderr
    page = (tmp / "evidence.html").read_text()
    assert "<h2>Compliance drift</h2>" in page and "<td>platform</td>" in page
    assert "migration &lt;day&gt;" in page and "migration <day>" not in page
    done = spanwatch(
        "report", "compliance", *args, "--format", "markdown", "--out", str(tmp / "e.txt")
    )
    assert done.returncode == 0, done.stderr
    text = (tmp / "e.txt").read_text()
    assert "## Compliance drift" in text and "| platform | any | 2026-W07 |" in text
    assert audit["doc"]["ruleset"]["version"] in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--out", "evidence.pdf"], "end it in .json, .md or .html"),
        (["--out", "e.json", "--from", "2026-03-01T00:00:00Z"], "--to must be after --from"),
    ],
)
def test_usage_errors_are_one_line(audit, tmp_path, extra, message):
    done = spanwatch("report", "compliance", str(audit["history"]), *PERIOD, *extra)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_findings_are_counted_per_rule_apart_from_incidents(audit):
    recorded = [x["finding"] for x in read_jsonl(audit["log"]) if x["type"] == "finding.recorded"]
    expected: dict[str, tuple[int, set]] = {}
    for f in recorded:
        n, people = expected.get(f["rule_id"], (0, set()))
        expected[f["rule_id"]] = (n + 1, people | {f["group"]["user"]})
    doc = audit["doc"]
    assert {f["rule_id"]: (f["findings"], f["people"]) for f in doc["findings"]} == {
        rule: (n, len(people)) for rule, (n, people) in expected.items()
    }
    assert not {i["id"] for i in doc["incidents"]} & {f["id"] for f in recorded}
