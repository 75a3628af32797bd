"""The backtest report as one HTML file: styles, charts (inline SVG) and a few lines of
script inline, nothing fetched, so it opens offline and can be attached to a review."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from html import escape

from detectors.recent import AlertSeries
from engine.report.incident_digest import (
    LoggedIncident,
    RuleFindings,
    RuleNoise,
    count_by_severity,
    noise,
)
from engine.report.svg import COLOURS, series_chart, timeline
from engine.report.truth import TruthScore
from engine.timeutil import iso

MAX_SERIES_CHARTS = 150  # detector incidents drawn with their series; the rest are listed

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d1d1f}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
.meta{color:#555}table{border-collapse:collapse;margin:8px 0}
th,td{padding:4px 10px;border-bottom:1px solid #e3e3e3;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.chart text{font-size:11px;fill:#333}.chart .tick{fill:#666}
.chart .grid{stroke:#eee}.chart .value{fill:none;stroke:#1f6feb;stroke-width:1.6}
.chart .baseline{fill:none;stroke:#888;stroke-dasharray:4 3;stroke-width:1.4}
.chart .score{fill:none;stroke:#8250df;stroke-width:1.4}
.chart .threshold{stroke:#b3261e;stroke-dasharray:2 2}.chart .fired{fill:#b3261e;opacity:.12}
.chart .value-dot{fill:#1f6feb}.series-card{display:inline-block;margin:0 16px 16px 0;
vertical-align:top}.series-card h3{font-size:13px;margin:0 0 2px}
.pill{display:inline-block;padding:0 6px;border-radius:8px;color:#fff;font-size:12px}
.missed{color:#b3261e;font-weight:600}.legend span{margin-right:14px}
input[type=search]{padding:4px 8px;margin:4px 0;width:260px}
"""

SCRIPT = """
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('input[data-filter]').forEach(function (input) {
    var rows = document.querySelectorAll(input.dataset.filter + ' tbody tr');
    input.addEventListener('input', function () {
      var q = input.value.toLowerCase();
      rows.forEach(function (row) {
        row.style.display = row.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
      });
    });
  });
});
"""


@dataclass
class ReportInput:
    history: list[str]
    span: tuple[float, float] | None
    events: int
    incidents: list[LoggedIncident]
    series: list[AlertSeries] = field(default_factory=list)
    group_by: dict[str, tuple[str, ...]] = field(default_factory=dict)  # per detector
    truth: TruthScore | None = None
    dropped_series: int = 0
    findings: list[RuleFindings] = field(default_factory=list)


def render(data: ReportInput) -> str:
    start, end = data.span or _incident_span(data.incidents)
    days = max(end - start, 0.0) / 86400.0
    rows = noise(data.incidents, days)
    body = [
        "<h1>spanwatch backtest</h1>",
        f'<p class="meta">{escape(", ".join(data.history))}<br>'
        f"{escape(iso(start))} to {escape(iso(end))} ({days:.1f} days) · "
        f"{data.events:,} events · {len(data.incidents):,} incidents opened</p>",
        _severity_legend(data.incidents),
        "<h2>Incidents over time</h2>",
        timeline(data.incidents, start, end),
        "<h2>Rules and detectors</h2>",
        _noise_table(rows),
    ]
    if data.findings:
        body += ["<h2>Findings (recorded and digested, never paged)</h2>"]
        body += [_findings_table(data.findings, days)]
    if data.truth is not None:
        body += ["<h2>Injected incidents and what was raised</h2>", _truth(data.truth, data)]
    body += ["<h2>Detector series around each incident</h2>", _series(data)]
    body += ["<h2>All incidents</h2>", _incident_table(data.incidents)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>spanwatch backtest</title>"
        f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def _incident_span(incidents: list[LoggedIncident]) -> tuple[float, float]:
    if not incidents:
        return (0.0, 86400.0)
    return (incidents[0].opened, max(i.resolved or i.opened for i in incidents))


def _pill(severity: str) -> str:
    colour = COLOURS.get(severity, "#555")
    return f'<span class="pill" style="background:{colour}">{escape(severity)}</span>'


def _severity_legend(incidents: list[LoggedIncident]) -> str:
    counts = count_by_severity(incidents)
    if not counts:
        return '<p class="legend">No incident was raised.</p>'
    parts = [f"<span>{_pill(s)} {n:,}</span>" for s, n in counts.items()]
    return f'<p class="legend">{"".join(parts)}</p>'


def _noise_table(rows: list[RuleNoise]) -> str:
    out = [
        '<input type="search" placeholder="filter rules and detectors" data-filter="#noise">',
        '<table id="noise"><thead><tr><th>rule or detector</th><th>source</th><th>severity</th>'
        '<th class="n">opened</th><th class="n">per day</th>'
        '<th class="n">resolved within 30 min</th><th class="n">median duration</th>'
        "</tr></thead><tbody>",
    ]
    for r in rows:
        median = _duration(statistics.median(r.durations)) if r.durations else "-"
        out.append(
            f"<tr><td>{escape(r.rule_id)}</td><td>{escape(r.source)}</td><td>{_pill(r.severity)}"
            f'</td><td class="n">{r.opened:,}</td><td class="n">{r.per_day:.2f}</td>'
            f'<td class="n">{r.quick_share:.0%}</td><td class="n">{median}</td></tr>'
        )
    out.append("</tbody></table>")
    return "".join(out)


def _findings_table(rows: list[RuleFindings], days: float) -> str:
    """Per rule that produces findings: how many, per day, and who raised most."""
    out = [
        '<table id="findings"><thead><tr><th>rule</th><th>severity</th>'
        '<th class="n">findings</th><th class="n">per day</th><th>most findings</th>'
        "</tr></thead><tbody>"
    ]
    for r in rows:
        per_day = r.recorded / days if days > 0 else float(r.recorded)
        top = ", ".join(f"{user} {n}" for user, n in r.top_users())
        out.append(
            f"<tr><td>{escape(r.rule_id)}</td><td>{_pill(r.severity)}</td>"
            f'<td class="n">{r.recorded}</td><td class="n">{per_day:.1f}</td>'
            f"<td>{escape(top)}</td></tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def _truth(score: TruthScore, data: ReportInput) -> str:
    found = sum(d.delay is not None or bool(d.findings) for d in score.detections)
    rules = {i.id: i.rule_id for i in data.incidents}
    out = [
        f"<p>recall <b>{score.recall:.1%}</b> ({found} of {len(score.detections)} injected "
        f"incidents explained by an incident, or a finding by policy) · precision <b>{score.precision:.1%}</b> "
        f"({score.matched} of {score.opened} opened incidents explain an injected one)</p>",
        '<table id="truth"><thead><tr><th>kind</th><th>severity</th><th>start</th>'
        '<th>group</th><th class="n">delay</th><th>raised</th></tr></thead><tbody>',
    ]
    for d in sorted(score.detections, key=lambda d: d.start):
        group = ", ".join(f"{k}={v}" for k, v in d.group.items())
        raised = ", ".join(sorted({rules.get(i, i) for i in d.incidents}))
        delay = _duration(d.delay) if d.delay is not None else '<span class="missed">missed</span>'
        if d.delay is None and d.findings:
            delay, raised = "finding", ", ".join(d.findings)  # by policy recorded, not paged
        out.append(
            f"<tr><td>{escape(d.kind)}</td><td>{_pill(d.severity)}</td><td>{escape(iso(d.start))}"
            f'</td><td>{escape(group)}</td><td class="n">{delay}</td><td>{escape(raised)}</td></tr>'
        )
    out.append("</tbody></table>")
    if score.unmatched_ids:
        by_rule: dict[str, int] = {}
        for iid in score.unmatched_ids:
            by_rule[rules.get(iid, "?")] = by_rule.get(rules.get(iid, "?"), 0) + 1
        listed = ", ".join(
            f"{escape(r)} {n}" for r, n in sorted(by_rule.items(), key=lambda kv: -kv[1])
        )
        out.append(f"<p>Opened without an injection behind them: {listed}</p>")
    return "".join(out)


def _series(data: ReportInput) -> str:
    detector_incidents = [i for i in data.incidents if i.source == "detector"]
    if not detector_incidents:
        return "<p>No detector raised an incident.</p>"
    index: dict[tuple[str, tuple[tuple[str, str], ...]], list[AlertSeries]] = {}
    for s in data.series:
        names = data.group_by.get(s.detector_id, ())
        group = tuple(sorted(zip(names, s.key, strict=False)))
        index.setdefault((s.detector_id, group), []).append(s)
    cards, unmatched = [], 0
    for inc in detector_incidents[:MAX_SERIES_CHARTS]:
        candidates = index.get((inc.rule_id, tuple(sorted(inc.group.items()))), [])
        best = min(candidates, key=lambda s: abs(s.fired[0] - inc.opened), default=None)
        shown = ", ".join(f"{k}={v}" for k, v in inc.group.items()) or "all"
        if best is None:
            unmatched += 1
            continue
        cards.append(
            f'<div class="series-card"><h3>{escape(inc.rule_id)} · {escape(shown)}</h3>'
            f'<div class="meta">opened {escape(iso(inc.opened))} · threshold '
            f"{best.threshold:g}</div>{series_chart(best)}</div>"
        )
    notes = []
    if len(detector_incidents) > MAX_SERIES_CHARTS:
        notes.append(f"the first {MAX_SERIES_CHARTS} of {len(detector_incidents)} are drawn")
    if unmatched:
        notes.append(f"{unmatched} without a recorded series")
    if data.dropped_series:
        notes.append(f"{data.dropped_series} alerts beyond the series kept")
    legend = (
        '<p class="legend"><span style="color:#1f6feb">— value</span>'
        '<span style="color:#888">- - baseline</span><span style="color:#8250df">— score</span>'
        '<span style="color:#b3261e">- - threshold</span><span>shaded: windows that fired</span></p>'
    )
    return legend + ("<p>" + "; ".join(notes) + "</p>" if notes else "") + "".join(cards)


def _incident_table(incidents: list[LoggedIncident]) -> str:
    out = [
        '<input type="search" placeholder="filter incidents" data-filter="#incidents">',
        '<table id="incidents"><thead><tr><th>opened</th><th>severity</th><th>rule or detector'
        '</th><th>group</th><th class="n">lasted</th></tr></thead><tbody>',
    ]
    for inc in incidents:
        group = ", ".join(f"{k}={v}" for k, v in inc.group.items())
        lasted = _duration(inc.resolved - inc.opened) if inc.resolved is not None else "open"
        out.append(
            f"<tr><td>{escape(iso(inc.opened))}</td><td>{_pill(inc.severity)}</td>"
            f"<td>{escape(inc.rule_id)}</td><td>{escape(group)}</td>"
            f'<td class="n">{lasted}</td></tr>'
        )
    out.append("</tbody></table>")
    return "".join(out)


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
