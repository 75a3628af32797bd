"""`spanwatch replay --report --truth`, opened in a real headless Chromium: it renders offline,
its charts are drawn, the console stays clean, and the figures agree with the incident log."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.engine.report.browser import Browser

SVG_SIZES = """JSON.stringify(Array.from(document.querySelectorAll('svg.chart')).map(function (s) {
  var r = s.getBoundingClientRect();
  return {cls: s.getAttribute('class'), w: r.width, h: r.height,
          marks: s.querySelectorAll('circle, polyline').length};
}))"""


def spanwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args, "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def backtest(tmp_path_factory) -> Path:
    """Two days of a small organisation unlike the defaults (eight time zones, mixed model
    spellings, Claude Code's events for some people, session batching), every incident kind."""
    d = tmp_path_factory.mktemp("backtest")
    sim = spanwatch(
        "simulate", "--days", "2", "--users", "30", "--seed", "23", "--zones", "global",
        "--spelling", "mixed", "--export", "mixed", "--batching", "session",
        "--incident-kinds", "all", "--out", str(d / "h.jsonl.gz"), "--truth", str(d / "truth.jsonl"),
    )  # fmt: skip
    assert sim.returncode == 0, sim.stderr
    done = spanwatch(
        "replay", str(d / "h.jsonl.gz"), "--out", str(d / "log.jsonl"),
        "--report", str(d / "report.html"), "--truth", str(d / "truth.jsonl"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"report: {d / 'report.html'}" in done.stdout
    return d


def test_the_report_opens_offline_and_draws_its_charts(backtest, tmp_path):
    html = (backtest / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing to fetch
    browser = Browser(tmp_path / "profile")
    try:
        browser.open((backtest / "report.html").as_uri())
        title = browser.evaluate("document.title")
        headings = browser.evaluate(
            "Array.from(document.querySelectorAll('h2')).map(h => h.textContent)"
        )
        charts = orjson.loads(browser.evaluate(SVG_SIZES))
        rows = browser.evaluate("document.querySelectorAll('#incidents tbody tr').length")
        browser.evaluate(
            "var i = document.querySelector('input[data-filter=\"#incidents\"]');"
            "i.value = 'no-such-rule-anywhere'; i.dispatchEvent(new Event('input'));"
        )
        shown = browser.evaluate(
            "Array.from(document.querySelectorAll('#incidents tbody tr'))"
            ".filter(r => r.style.display !== 'none').length"
        )
        errors = browser.console_errors()
        urls = browser.requested_urls()
    finally:
        browser.close()
    assert title == "spanwatch backtest"
    assert "Incidents over time" in headings
    assert "Injected incidents and what was raised" in headings
    assert "Detector series around each incident" in headings
    assert charts[0]["cls"] == "chart timeline"
    series = [c for c in charts if "series" in c["cls"]]
    assert series, "no detector series drawn"
    for chart in charts:
        assert chart["w"] > 100 and chart["h"] > 50 and chart["marks"] > 0, chart
    log = [orjson.loads(x) for x in (backtest / "log.jsonl").read_bytes().splitlines()]
    opened = [x for x in log if x["type"] == "incident.opened"]
    assert rows == len(opened) and shown == 0  # the filter hides every row
    assert errors == []
    assert all(u.startswith("file://") for u in urls), urls


def test_the_truth_section_scores_what_was_injected(backtest):
    html = (backtest / "report.html").read_text()
    truth = [orjson.loads(x) for x in (backtest / "truth.jsonl").read_bytes().splitlines()]
    recall = re.search(r"recall <b>([\d.]+)%</b> \((\d+) of (\d+) injected", html)
    precision = re.search(r"precision <b>([\d.]+)%</b> \((\d+) of (\d+) opened", html)
    assert recall and precision
    assert int(recall.group(3)) == len(truth)
    log = [orjson.loads(x) for x in (backtest / "log.jsonl").read_bytes().splitlines()]
    assert int(precision.group(3)) == sum(x["type"] == "incident.opened" for x in log)
    table = html.split('id="truth"')[1].split("</table>")[0]
    assert table.count("<tr>") == len(truth) + 1  # a row per injection, and the header
    missed = table.count('class="missed"')
    assert int(recall.group(2)) == len(truth) - missed
    # most of a small week's injections are found: the figures are not all zero
    assert int(recall.group(2)) > len(truth) // 2 and float(precision.group(1)) > 50


def test_findings_have_their_own_table_and_explain_without_counting_as_incidents(backtest):
    html = (backtest / "report.html").read_text()
    log = [orjson.loads(x) for x in (backtest / "log.jsonl").read_bytes().splitlines()]
    recorded = [x["finding"] for x in log if x["type"] == "finding.recorded"]
    assert recorded  # the injected pull request over failing checks, at least
    assert not any(
        x["incident"]["rule_id"] == "pr-without-passing-assertion"
        for x in log
        if x["type"] == "incident.opened"
    )
    table = html.split('id="findings"')[1].split("</table>")[0]
    for rule in {f["rule_id"] for f in recorded}:
        count = sum(f["rule_id"] == rule for f in recorded)
        assert re.search(rf"<td>{rule}</td>.*?<td class=\"n\">{count}</td>", table)
    truth = html.split('id="truth"')[1].split("</table>")[0]
    row = next(r for r in truth.split("<tr>") if "pr_without_passing_assertions" in r)
    assert ">finding<" in row and "pr-without-passing-assertion" in row


def test_truth_needs_a_report_and_a_bad_truth_file_is_one_line(tmp_path, backtest):
    history = str(backtest / "h.jsonl.gz")
    alone = spanwatch("replay", history, "--truth", str(backtest / "truth.jsonl"))
    assert alone.returncode == 2 and "--truth FILE goes with --report FILE" in alone.stderr
    bad = tmp_path / "truth.jsonl"
    bad.write_text('{"kind": "x", "start": "2026-11-02T00:00:00Z"}\nnot json\n')
    done = spanwatch("replay", history, "--report", str(tmp_path / "r.html"), "--truth", str(bad))
    assert done.returncode == 2
    assert f"{bad}:1: not an injected incident" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "r.html").exists()


def test_the_report_is_the_same_with_two_workers(backtest, tmp_path):
    done = spanwatch(
        "replay", str(backtest / "h.jsonl.gz"), "--workers", "2", "--out", str(tmp_path / "l"),
        "--report", str(tmp_path / "r.html"), "--truth", str(backtest / "truth.jsonl"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.html").read_bytes() == (backtest / "report.html").read_bytes()
