"""Charts as inline SVG, drawn here rather than in the browser: the report opens anywhere,
offline, and prints as it shows. Every mark carries a `<title>` (the browser's tooltip)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from itertools import pairwise

from detectors.recent import AlertSeries, Point
from engine.report.incidents import SEVERITY_ORDER, Incident, severity_rank
from engine.timeutil import iso

COLOURS = {
    "critical": "#b3261e",
    "high": "#e8710a",
    "medium": "#f2b600",
    "low": "#4a8ad6",
    "info": "#8a8a8a",
}


def _ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    if hi <= lo:
        return [lo]
    step = (hi - lo) / count
    return [lo + i * step for i in range(count + 1)]


def _short_time(t: float) -> str:
    return iso(t)[5:16].replace("T", " ")


def timeline(incidents: Sequence[Incident], start: float, end: float, width: int = 960) -> str:
    """Incidents by the time they opened, a row per severity."""
    rows = [s for s in SEVERITY_ORDER if any(i.severity == s for i in incidents)] or ["info"]
    rows += sorted({i.severity for i in incidents} - set(rows), key=severity_rank)
    left, top, row_h = 90, 10, 34
    height = top + row_h * len(rows) + 30
    span = max(end - start, 1.0)
    plot_w = width - left - 20

    def x(t: float) -> float:
        return left + plot_w * (t - start) / span

    out = [
        f'<svg class="chart timeline" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="incidents on a timeline by severity">'
    ]
    for r, severity in enumerate(rows):
        y = top + r * row_h + row_h / 2
        out.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(severity)}</text>'
        )
        out.append(f'<line x1="{left}" x2="{width - 20}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
    axis_y = top + row_h * len(rows)
    ticks = _ticks(start, end)
    for n, t in enumerate(ticks):
        anchor = "start" if n == 0 else "end" if n == len(ticks) - 1 else "middle"
        out.append(
            f'<text x="{x(t):.1f}" y="{axis_y + 18}" text-anchor="{anchor}" class="tick">'
            f"{escape(_short_time(t))}</text>"
        )
    for inc in incidents:
        r = rows.index(inc.severity)
        y = top + r * row_h + row_h / 2
        colour = COLOURS.get(inc.severity, "#555")
        group = ", ".join(f"{k}={v}" for k, v in inc.group.items())
        tip = f"{iso(inc.opened)} {inc.rule_id} ({inc.severity}) {group}"
        out.append(
            f'<circle cx="{x(inc.opened):.1f}" cy="{y:.1f}" r="5" fill="{colour}" '
            f'fill-opacity="0.75"><title>{escape(tip)}</title></circle>'
        )
    out.append("</svg>")
    return "".join(out)


def series_chart(series: AlertSeries, width: int = 560) -> str:
    """A detector key's points around an alert: value and baseline above, score and the
    threshold below, the windows it fired shaded."""
    points = around(series)
    if not points:
        return ""
    left, right, gap = 60, 10, 16
    top_h, bottom_h = 110, 60
    height = 10 + top_h + gap + bottom_h + 24
    ends = [p.end for p in points]
    t0, t1 = min(ends), max(ends)
    span = max(t1 - t0, 1.0)
    plot_w = width - left - right

    def x(t: float) -> float:
        return left + plot_w * (t - t0) / span

    values = [v for p in points for v in (p.value, p.baseline) if v is not None]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 1.0, hi + 1.0
    scores = [p.score for p in points]
    threshold = series.threshold if math.isfinite(series.threshold) else 1.0
    s_hi = max([*scores, threshold, 1e-9]) * 1.1

    def y_value(v: float) -> float:
        return 10 + top_h * (1 - (v - lo) / (hi - lo))

    def y_score(s: float) -> float:
        return 10 + top_h + gap + bottom_h * (1 - s / s_hi)

    out = [
        f'<svg class="chart series" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="detector series">'
    ]
    step = min((b - a for a, b in pairwise(ends) if b > a), default=span)
    for fired in series.fired:
        out.append(
            f'<rect x="{x(fired - step):.1f}" y="10" width="{max(plot_w * step / span, 2):.1f}" '
            f'height="{top_h + gap + bottom_h}" class="fired"><title>fired, window ending '
            f"{escape(iso(fired))}</title></rect>"
        )
    out.append(
        _polyline([(x(p.end), y_value(p.value)) for p in points if p.value is not None], "value")
    )
    out.append(
        _polyline(
            [(x(p.end), y_value(p.baseline)) for p in points if p.baseline is not None], "baseline"
        )
    )
    out.append(_polyline([(x(p.end), y_score(p.score)) for p in points], "score"))
    ty = y_score(threshold)
    out.append(
        f'<line x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}" class="threshold">'
        f"<title>threshold {threshold:g}</title></line>"
    )
    for p in points:
        if p.value is not None:
            tip = f"{iso(p.end)} value {p.value:g}" + (
                f", baseline {p.baseline:g}" if p.baseline is not None else ""
            )
            out.append(
                f'<circle cx="{x(p.end):.1f}" cy="{y_value(p.value):.1f}" r="2.5" class="value-dot">'
                f"<title>{escape(tip)}</title></circle>"
            )
    out.append(
        f'<text x="{left - 6}" y="{y_value(hi) + 4:.1f}" text-anchor="end" class="tick">{hi:.3g}</text>'
    )
    out.append(
        f'<text x="{left - 6}" y="{y_value(lo) + 4:.1f}" text-anchor="end" class="tick">{lo:.3g}</text>'
    )
    out.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" class="tick">score</text>')
    out.append(
        f'<text x="{left}" y="{height - 6}" class="tick">{escape(_short_time(t0))}</text>'
        f'<text x="{width - right}" y="{height - 6}" text-anchor="end" class="tick">'
        f"{escape(_short_time(t1))}</text>"
    )
    out.append("</svg>")
    return "".join(out)


def around(series: AlertSeries, before: int = 30, after: int = 15) -> list[Point]:
    """The series' points within `before` windows of its first alert and `after` of its
    last: a sparse key's older points would squeeze the alert into a sliver of the chart."""
    ends = [p.end for p in series.points]
    step = min((b - a for a, b in pairwise(ends) if b > a), default=0.0)
    if not step:
        return list(series.points)
    lo, hi = series.fired[0] - before * step, series.fired[-1] + after * step
    return [p for p in series.points if lo <= p.end <= hi]


def _polyline(points: list[tuple[float, float]], css: str) -> str:
    if not points:
        return ""
    if len(points) == 1:
        (px, py) = points[0]
        return f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" class="{css}-dot"/>'
    coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    return f'<polyline points="{coords}" class="{css}"/>'
